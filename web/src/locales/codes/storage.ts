// Messages of the admins' storage management by code ("storage.<key>").
export const zh = {
  quotaInvalid: '配额必须是不小于 0 的字节数',
}

export const en: typeof zh = {
  quotaInvalid: 'The quota must be a number of bytes, 0 or more',
}
