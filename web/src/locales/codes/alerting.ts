// Messages of the alerting capability by code (data.reason "alerting.<key>",
// and the stored alert texts: an alert's code and params). The same texts
// are in internal/alerting/eval/texts.go for the mails to admins.
export const zh = {
  // alert texts (告警内容)
  gpuTemperature: 'GPU {gpu} 温度 {value} °C ≥ {threshold} °C，持续 {seconds} 秒',
  diskUsage: '磁盘使用率 {value}% ≥ {threshold}%，持续 {seconds} 秒',
  diskUsageOn: '磁盘使用率 ({mount}) {value}% ≥ {threshold}%，持续 {seconds} 秒',
  memoryUsage: '内存使用率 {value}% ≥ {threshold}%，持续 {seconds} 秒',
  offline: '机器离线，已 {seconds} 秒以上没有上报数据',
  leaseCleanupStuck: '租期结束 {minutes} 分钟后清理仍未完成，待主机确认：{steps}',
  // errors
  notFound: '告警不存在',
  alreadyAcknowledged: '告警已由 {by} 确认',
  alreadyResolved: '告警已处理',
  ruleListedTwice: '规则 {type} 重复',
  thresholdRequired: '请填写阈值',
  unknownType: '未知的告警类型',
  invalidLevel: '级别须为 critical、warning 或 info',
  durationRange: '持续时间须在 0 到 86400 秒之间',
  durationWholeSeconds: '持续时间须为整秒',
  thresholdRange: '阈值须在 {min} 到 {max} 之间',
  clearMarginRange: '恢复回差须在 0 到 50 之间且小于阈值',
  badTime: '{field} 须为 RFC 3339 时间',
}

export const en: typeof zh = {
  gpuTemperature: 'GPU {gpu} temperature {value} °C ≥ {threshold} °C for {seconds} s',
  diskUsage: 'disk usage {value}% ≥ {threshold}% for {seconds} s',
  diskUsageOn: 'disk usage ({mount}) {value}% ≥ {threshold}% for {seconds} s',
  memoryUsage: 'memory usage {value}% ≥ {threshold}% for {seconds} s',
  offline: 'machine offline: no data for {seconds} s or more',
  leaseCleanupStuck: 'the end-of-lease cleanup is not done after {minutes} minutes; waiting for the host to confirm: {steps}',
  notFound: 'alert not found',
  alreadyAcknowledged: 'the alert was already acknowledged by {by}',
  alreadyResolved: 'the alert is already resolved',
  ruleListedTwice: 'rule {type} is listed twice',
  thresholdRequired: 'threshold is required',
  unknownType: 'unknown alert type',
  invalidLevel: 'level must be critical, warning or info',
  durationRange: 'duration must be 0 to 86400 seconds',
  durationWholeSeconds: 'duration must be whole seconds',
  thresholdRange: 'threshold must be {min} to {max}',
  clearMarginRange: 'clear margin must be 0 to 50 and below the threshold',
  badTime: '{field} must be an RFC 3339 time',
}

// Messages of the monitoring (agent ingest, figures) and of the live
// sockets, "monitoring.<key>" and "live.<key>": codes/index.ts registers
// them as `monitoring: monitoringZh` and `live: liveZh` (and the English).
export const monitoringZh = {
  machineNotFound: '机器不存在',
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

export const monitoringEn: typeof monitoringZh = {
  machineNotFound: 'machine not found',
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

export const liveZh = {
  machineNotLeased: '机器不存在或未分配给您',
  upgradeRequired: '需要 WebSocket 升级',
  originNotAllowed: '不允许的来源',
  shuttingDown: '服务正在关闭',
  handshakeRefused: 'WebSocket 握手被拒绝：{reason}',
}

export const liveEn: typeof liveZh = {
  machineNotLeased: 'machine not found',
  upgradeRequired: 'a WebSocket upgrade is required',
  originNotAllowed: 'origin not allowed',
  shuttingDown: 'shutting down',
  handshakeRefused: '{reason}',
}
