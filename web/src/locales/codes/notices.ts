// System notices by code (a notification's code and params, "notices.<key>"):
// the title and content of each. The console adds endAtText (params.endAt in
// local time) and statusText (params.status in the language); see
// utils/noticeText.ts. The same texts are in
// activities/notice_texts.go for the mails.
// vue-i18n syntax: {name} interpolates; write a literal @ or | as {'@'} / {'|'}.
export const zh = {
  leaseExpiring: {
    title: '机器即将到期：{machine}',
    content:
      '您租用的机器 {machine}（{gpuCount} × {gpuModel}）将于 {endAtText} 到期，到期后机器将被回收，其上的任务会被停止。如需继续使用，请联系管理员续期。',
  },
  taskSucceeded: {
    title: '任务已完成：{name}',
    content: '您的任务 {name} 已结束，状态：{statusText}。详情与日志请在任务详情页查看。',
  },
  taskFailed: {
    title: '任务失败：{name}',
    content: '您的任务 {name} 已结束，状态：{statusText}。详情与日志请在任务详情页查看。',
  },
  taskStopped: {
    title: '任务已停止：{name}',
    content: '您的任务 {name} 已结束，状态：{statusText}。详情与日志请在任务详情页查看。',
  },
  taskStoppedByAdmin: {
    title: '任务已停止：{name}',
    content: '您的任务 {name} 已被平台管理员停止。原因：{reason}',
  },
}

export const en: typeof zh = {
  leaseExpiring: {
    title: 'Machine lease ending soon: {machine}',
    content:
      'Your lease of machine {machine} ({gpuCount} × {gpuModel}) ends on {endAtText}. The machine is then reclaimed and the tasks on it are stopped; contact your administrator to renew it.',
  },
  taskSucceeded: {
    title: 'Task succeeded: {name}',
    content: 'Your task {name} has ended with the status {statusText}. Its details and logs are on the task page.',
  },
  taskFailed: {
    title: 'Task failed: {name}',
    content: 'Your task {name} has ended with the status {statusText}. Its details and logs are on the task page.',
  },
  taskStopped: {
    title: 'Task stopped: {name}',
    content: 'Your task {name} has ended with the status {statusText}. Its details and logs are on the task page.',
  },
  taskStoppedByAdmin: {
    title: 'Task stopped: {name}',
    content: 'Your task {name} was stopped by a platform administrator. Reason: {reason}',
  },
}
