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
}
