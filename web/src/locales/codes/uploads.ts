// Messages of dataset uploads and imports by code ("uploads.<key>"), and the
// reasons an ingest failed ("uploads.reason.<key>", a dataset's statusReason).
export const zh = {
  quotaExceeded: '存储空间不足：需要 {need}，剩余 {free}（配额 {quota}）',
}

export const en: typeof zh = {
  quotaExceeded: 'Not enough storage: {need} needed, {free} left (quota {quota})',
}
