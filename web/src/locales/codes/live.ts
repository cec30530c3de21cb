// Messages of the monitoring WebSockets by code (data.reason "live.<key>").
export const zh = {
  machineNotLeased: '机器不存在或未分配给您',
  upgradeRequired: '需要 WebSocket 升级',
  originNotAllowed: '不允许的来源',
  shuttingDown: '服务正在关闭',
  handshakeRefused: 'WebSocket 握手被拒绝：{reason}',
}

export const en: typeof zh = {
  machineNotLeased: 'machine not found',
  upgradeRequired: 'a WebSocket upgrade is required',
  originNotAllowed: 'origin not allowed',
  shuttingDown: 'shutting down',
  handshakeRefused: '{reason}',
}
