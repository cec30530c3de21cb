// Messages of the accounts capability by code (data.reason "accounts.<key>", stored event codes).
export const zh = {}

export const en: typeof zh = {}
