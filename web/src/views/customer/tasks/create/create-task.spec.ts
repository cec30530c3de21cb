import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import type { AvailableMachine } from '@/api/tasks'
import { MA, MB, taskFixture } from '@/test/fixtures'
import { fieldError, flushPromises, mountPage, settleForm } from '@/test/mountPage'

vi.mock('@/api/datasets', async (original) => ({
  ...(await original<typeof import('@/api/datasets')>()),
  listMountedOn: vi.fn(),
}))
vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listAvailableMachines: vi.fn(),
  listTaskImages: vi.fn(),
  createTask: vi.fn(),
}))
const api = await import('@/api/tasks')
const datasetsApi = await import('@/api/datasets')
const { bodyOf, emptyTaskForm, envNameProblem, placeTaskErrors, sentEnvRows } = await import('./rules')
const { default: Page } = await import('./index.vue')

const machines: AvailableMachine[] = [
  { id: MA, name: 'gpu-a', gpuModel: 'A100', gpuCount: 8, freeGpus: 6, queuedTasks: 0, gpuSource: 'simulated', status: 'online' },
  { id: MB, name: 'gpu-b', gpuModel: 'H100', gpuCount: 2, freeGpus: 0, queuedTasks: 3, gpuSource: 'nvml', status: 'online' },
]

const row = (name: string, value = 'v', key = 0) => ({ key, name, value })
const image = (ref: string) => ({ ref, id: `sha256:${ref.length}`, size: 1 << 20, created: '2026-01-01T00:00:00Z' })

describe('create task: the body and the checks', () => {
  it('sends trimmed text, the filled env rows, attempts only with auto-restart, a port only for inference', () => {
    const form = {
      ...emptyTaskForm(),
      name: ' resnet ',
      machineId: MA,
      gpuCount: 2,
      image: ' remotegpu/testimage:latest ',
      command: ' python train.py ',
      env: [row('LR', '0.1'), row('', ''), row(' EPOCHS ', '90')],
      maxAttempts: 5,
      servicePort: 8000,
    }
    const body = bodyOf(form)
    expect(body).toMatchObject({
      name: 'resnet',
      type: 'training',
      image: 'remotegpu/testimage:latest',
      command: 'python train.py',
      env: [
        { name: 'LR', value: '0.1' },
        { name: 'EPOCHS', value: '90' },
      ],
      autoRestart: false,
      maxAttempts: 1,
      notifyInApp: true,
      checkpointIntervalSeconds: 600,
      servicePort: null,
    })
    expect(bodyOf({ ...form, autoRestart: true, type: 'inference' })).toMatchObject({ maxAttempts: 5, servicePort: 8000 })
    // the body's env[1] is the form's third row
    expect(sentEnvRows(form)).toEqual([0, 2])
  })

  it('checks env names: shell names, not the platform’s, each once; an empty row is left out', () => {
    const rows = [row('LR'), row('1BAD'), row('RGPU_OUTPUT_DIR'), row('CUDA_VISIBLE_DEVICES'), row('LR'), row('', ''), row('', 'x')]
    expect(envNameProblem(rows, 0)).toBe('')
    expect(envNameProblem(rows, 1)).toContain('字母、数字和下划线')
    expect(envNameProblem(rows, 2)).toBe('RGPU_OUTPUT_DIR 由平台设置，不能覆盖')
    expect(envNameProblem(rows, 3)).toContain('不能覆盖')
    expect(envNameProblem(rows, 4)).toBe('LR 重复')
    expect(envNameProblem(rows, 5)).toBe('')
    expect(envNameProblem(rows, 6)).toBe('请输入变量名')
  })

  it('places the API’s field errors on their fields, env rows on the row that was sent', () => {
    const err = new ApiError({
      status: 400,
      message: 'validation failed',
      data: {
        errors: [
          { location: 'body.gpuCount', message: 'expected number <= 2', value: 4 },
          { location: 'body.env[1].name', message: 'reserved name' },
          { location: 'body.env.0.value', message: 'too long' },
          { location: 'body.image', message: 'no such image', reason: 'tasks.reason.imageMissing' },
          { location: 'query.somethingElse', message: 'x' },
        ],
      },
    })
    const placed = placeTaskErrors(err, [0, 2])
    expect(placed.placed).toBe(true)
    expect(placed.fields).toEqual({ gpuCount: 'expected number <= 2', image: '主机上没有这个镜像' })
    expect(placed.env).toEqual({ 2: { name: 'reserved name' }, 0: { value: 'too long' } })
    expect(placeTaskErrors(new ApiError({ status: 409, message: 'conflict' })).placed).toBe(false)
  })
})

describe('create task page', () => {
  beforeEach(() => {
    vi.mocked(api.listAvailableMachines).mockResolvedValue(machines)
    vi.mocked(api.listTaskImages).mockResolvedValue([image('remotegpu/testimage:latest'), image('pytorch:2.3')])
    vi.mocked(datasetsApi.listMountedOn).mockResolvedValue([])
  })
  afterEach(() => {
    vi.clearAllMocks()
    document.body.innerHTML = ''
  })

  type Vm = { form: ReturnType<typeof emptyTaskForm> }

  it('offers the leased machines with free GPUs, marks simulated ones, and loads the chosen machine’s images', async () => {
    const { wrapper } = await mountPage(Page, `/customer/tasks/create-training?machineId=${MA}`)
    await flushPromises()
    expect(api.listTaskImages).toHaveBeenCalledWith(MA)
    const info = wrapper.find('[data-testid="task-machine-info"]').text()
    expect(info).toContain('空闲 6 / 8 块 GPU')
    expect(info).toContain('模拟 GPU')
    // the container's paths and variables, as help
    const env = wrapper.find('[data-testid="task-container-env"]').text()
    expect(env).toContain('RGPU_OUTPUT_DIR=/rgpu/output')
    expect(env).toContain('RGPU_CHECKPOINT_DIR=/rgpu/checkpoints')
    expect(env).toContain('RGPU_CHECKPOINT_INTERVAL')

    // more GPUs than are free: it will queue
    const vm = wrapper.vm as unknown as Vm
    vm.form.gpuCount = 7
    await flushPromises()
    expect(wrapper.find('[data-testid="task-gpu-queue-hint"]').text()).toContain('只有 6 块 GPU 空闲')
    // another machine with fewer GPUs: the count follows it
    vm.form.machineId = MB
    await flushPromises()
    expect(vm.form.gpuCount).toBe(2)
    expect(api.listTaskImages).toHaveBeenLastCalledWith(MB)
    wrapper.unmount()
  })

  it('offers the datasets mounted on the machine, forgets them on another machine, and binds the chosen ones', async () => {
    const mount = {
      id: 'mount-1', datasetId: 'ds-1', datasetName: 'imagenet', machineId: MA, machineName: 'gpu-a', path: '/data/imagenet',
      status: 'mounted' as const, statusReason: '', statusParams: null, createdAt: '2026-01-01T00:00:00Z', mountedAt: '2026-01-01T00:00:00Z',
    }
    vi.mocked(datasetsApi.listMountedOn).mockResolvedValue([mount])
    const { wrapper, router } = await mountPage(Page, `/customer/tasks/create-training?machineId=${MA}`)
    await flushPromises()
    expect(datasetsApi.listMountedOn).toHaveBeenCalledWith(MA)
    const vm = wrapper.vm as unknown as Vm
    Object.assign(vm.form, { name: 'resnet', image: 'remotegpu/testimage:latest', command: 'ls /rgpu/datasets', datasetMounts: ['mount-1'] })
    vi.mocked(api.createTask).mockResolvedValueOnce(taskFixture({ id: 'new-task' }))
    await wrapper.find('form').trigger('submit')
    await settleForm()
    expect(vi.mocked(api.createTask).mock.calls[0][0].datasets).toEqual([{ mountId: 'mount-1' }])
    expect(router.currentRoute.value.path).toBe('/customer/tasks/new-task')
    // none chosen: nothing sent; another machine: the choice is cleared
    expect(bodyOf(emptyTaskForm()).datasets).toBeUndefined()
    vi.mocked(datasetsApi.listMountedOn).mockResolvedValue([])
    vm.form.datasetMounts = ['mount-1']
    vm.form.machineId = MB
    await flushPromises()
    expect(datasetsApi.listMountedOn).toHaveBeenLastCalledWith(MB)
    expect(vm.form.datasetMounts).toEqual([])
    wrapper.unmount()
  })

  it('checks the required fields before sending', async () => {
    const { wrapper } = await mountPage(Page, '/customer/tasks/create-training')
    await wrapper.find('form').trigger('submit')
    await settleForm()
    expect(fieldError('[data-testid="task-name"]')).toBe('请输入任务名称')
    expect(fieldError('[data-testid="task-machine"]')).toBe('请输入运行机器')
    expect(fieldError('[data-testid="task-command"]')).toBe('请输入启动命令')
    expect(api.createTask).not.toHaveBeenCalled()
    wrapper.unmount()
  })

  it('shows the API’s field errors at their fields, and goes to the new task on success', async () => {
    const { wrapper, router } = await mountPage(Page, `/customer/tasks/create-training?machineId=${MA}`)
    await flushPromises()
    const vm = wrapper.vm as unknown as Vm
    Object.assign(vm.form, { name: 'resnet', image: 'remotegpu/testimage:latest', command: 'echo hi', gpuCount: 2 })
    await wrapper.find('[data-testid="task-env-add"]').trigger('click')
    await wrapper.find('[data-testid="task-env-add"]').trigger('click')
    vm.form.env[1].name = 'LR'
    vm.form.env[1].value = '0.1'
    await flushPromises()

    vi.mocked(api.createTask).mockRejectedValueOnce(
      new ApiError({
        status: 400,
        message: 'validation failed',
        data: {
          errors: [
            { location: 'body.gpuCount', message: 'only 1 GPU may be asked for' },
            { location: 'body.env[0].name', message: 'LR is not allowed here' },
          ],
        },
      }),
    )
    await wrapper.find('form').trigger('submit')
    await settleForm()
    expect(vi.mocked(api.createTask).mock.calls[0][0].env).toEqual([{ name: 'LR', value: '0.1' }])
    expect(fieldError('[data-testid="task-gpu-count"]')).toBe('only 1 GPU may be asked for')
    // the second form row is the first one sent
    expect(fieldError('[data-testid="task-env-1"] [data-testid="task-env-name"]')).toBe('LR is not allowed here')
    expect(fieldError('[data-testid="task-env-0"] [data-testid="task-env-name"]')).toBe('')

    vi.mocked(api.createTask).mockResolvedValueOnce(taskFixture({ id: 'new-task' }))
    await wrapper.find('form').trigger('submit')
    await settleForm()
    expect(router.currentRoute.value.path).toBe('/customer/tasks/new-task')
    wrapper.unmount()
  })

  it('shows an error with no field of its own on the form', async () => {
    const { wrapper } = await mountPage(Page, `/customer/tasks/create-training?machineId=${MA}`)
    await flushPromises()
    Object.assign((wrapper.vm as unknown as Vm).form, { name: 'x', image: 'img', command: 'true' })
    vi.mocked(api.createTask).mockRejectedValueOnce(
      new ApiError({ status: 409, message: 'machine not leased', data: { reason: 'machines.notYours' } }),
    )
    await wrapper.find('form').trigger('submit')
    await settleForm()
    expect(wrapper.find('[data-testid="task-form-error"]').text()).toContain('机器不存在或未分配给您')
    wrapper.unmount()
  })
})
