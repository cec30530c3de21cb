// Messages of the tasks capability by code (data.reason "tasks.<key>") and the
// reasons a task or an attempt ended (status_reason "tasks.reason.<key>").
export const zh = {
  notFound: '任务不存在',
  notStoppable: '任务已结束，不能停止',
  notFinished: '任务还在排队或运行，结束后才能重新运行',
  running: '任务还在排队或运行，请先停止再删除',
  hostUnreachable: '主机上的 Agent 没有响应，请稍后重试',
  reason: {
    exitNonZero: '进程以非零退出码结束',
    oomKilled: '内存不足，进程被系统终止',
    hostLost: '与主机失去联系',
    gpuFault: 'GPU 故障',
    containerMissing: '容器不见了（被主机上的其他操作删除）',
    stoppedByUser: '已由用户停止',
    stoppedByAdmin: '已由平台管理员停止',
    leaseEnded: '机器租期已结束',
    startFailed: '容器启动失败',
    imageMissing: '主机上没有这个镜像',
  },
}

export const en: typeof zh = {
  notFound: 'task not found',
  notStoppable: 'the task has already ended',
  notFinished: 'the task is still queued or running; re-run it once it has ended',
  running: 'the task is still queued or running; stop it before deleting it',
  hostUnreachable: "the host's agent did not answer; try again later",
  reason: {
    exitNonZero: 'the process exited with a non-zero code',
    oomKilled: 'out of memory: the process was killed',
    hostLost: 'the host was lost',
    gpuFault: 'GPU fault',
    containerMissing: 'the container was gone (removed on the host)',
    stoppedByUser: 'stopped by a user',
    stoppedByAdmin: 'stopped by a platform admin',
    leaseEnded: 'the lease of the machine ended',
    startFailed: 'the container did not start',
    imageMissing: 'the image is not on the host',
  },
}
