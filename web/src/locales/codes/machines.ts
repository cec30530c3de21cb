// Messages of the machines capability by code (data.reason "machines.<key>", stored event codes).
export const zh = {}

export const en: typeof zh = {}
