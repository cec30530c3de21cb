// Messages of dataset mounts and machine imports by code ("mounts.<key>"),
// and why a mount failed ("mounts.reason.<key>", a mount's statusReason).
export const zh = {
  notFound: '挂载记录不存在',
}

export const en: typeof zh = {
  notFound: 'mount not found',
}
