// Messages of the admins' storage management by code ("storage.<key>").
export const zh = {
  quotaInvalid: '配额必须是不小于 0 的字节数',
  rangeInvalid: '时间范围须为 7d 或 30d',
  daysInvalid: '天数须为 1–3650',
}

export const en: typeof zh = {
  quotaInvalid: 'The quota must be a number of bytes, 0 or more',
  rangeInvalid: 'The range must be 7d or 30d',
  daysInvalid: 'Days must be 1 to 3650',
}
