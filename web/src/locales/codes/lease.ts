// Messages of the lease capability by code (data.reason "lease.<key>", stored event codes).
export const zh = {}

export const en: typeof zh = {}
