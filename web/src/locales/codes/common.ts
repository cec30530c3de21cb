// Messages the API names by a code of its own (data.reason of an error,
// the code of a stored event), shared by every capability. Each capability
// keeps its messages in a file of its own beside this one.
export const zh = {
  internal: '服务内部错误',
  validation: '参数错误',
  badRequest: '请求有误',
  unauthorized: '请先登录',
  forbidden: '无权访问',
  notFound: '不存在',
  conflict: '操作冲突，请刷新后重试',
  tooLarge: '内容过大',
  tooManyRequests: '请求过多，请稍后再试',
  unavailable: '服务暂不可用，请稍后重试',
  noSuchEndpoint: '接口不存在',
  workflowUnavailable: '工作流服务暂不可用，请稍后重试',
  uploadTooLarge: '上传内容过大（上限 {mb} MB）',
  invalidTime: '{name} 须为 RFC 3339 时间',
  invalidUUID: '{name} 须为 UUID',
}

export const en: typeof zh = {
  internal: 'Internal error',
  validation: 'Invalid input',
  badRequest: 'Bad request',
  unauthorized: 'Please sign in',
  forbidden: 'Forbidden',
  notFound: 'Not found',
  conflict: 'Conflicting change; refresh and try again',
  tooLarge: 'Too large',
  tooManyRequests: 'Too many requests; try again in a moment',
  unavailable: 'The service is unavailable; try again later',
  noSuchEndpoint: 'No such endpoint',
  workflowUnavailable: 'The workflow service is unavailable; try again later',
  uploadTooLarge: 'The upload is too large (limit {mb} MB)',
  invalidTime: '{name} must be an RFC 3339 time',
  invalidUUID: '{name} must be a UUID',
}
