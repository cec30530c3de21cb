// Messages of the monitoring capability by code (data.reason
// "monitoring.<key>"): agent tokens and registration, metric ingest, the figures.
export const zh = {
  agentTokenRequired: '需要 agent 令牌',
  agentTokenInvalid: 'agent 令牌无效：请用新的引导令牌重新注册 agent',
  bootstrapTokenInvalid: '机器不存在，或引导令牌无效或已过期（每个令牌只能使用一次且有时限：请在控制台重新生成）',
  noSamples: '至少需要一轮采样',
  samplesNotStored: '请求在采样保存前结束，请重新发送',
  progressNotJSON: '进度不是 JSON',
  failedWithoutError: '失败的命令须说明原因',
  fromAfterTo: '开始时间须早于结束时间',
  rangeBeforeRetention: '该时间范围没有数据：它在保留期开始之前结束',
}

export const en: typeof zh = {
  agentTokenRequired: 'agent token required',
  agentTokenInvalid: 'invalid agent token: register the agent again with a new bootstrap token',
  bootstrapTokenInvalid:
    'unknown machine, or an invalid or expired bootstrap token (each token works once, for a limited time: issue a new one in the console)',
  noSamples: 'samples: at least one sampling round',
  samplesNotStored: 'the request ended before the samples were stored; send them again',
  progressNotJSON: 'progress: not JSON',
  failedWithoutError: 'error: a failed command says why',
  fromAfterTo: 'from must be before to',
  rangeBeforeRetention: 'the range holds no data: it ends before the retention begins',
}
