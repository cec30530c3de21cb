// Messages of the alerting capability by code (data.reason "alerting.<key>", stored event codes).
export const zh = {}

export const en: typeof zh = {}
