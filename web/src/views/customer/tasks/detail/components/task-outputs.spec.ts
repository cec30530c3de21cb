import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { ApiError } from '@/api/http'
import { i18n } from '@/locales'

vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listTaskOutputs: vi.fn(),
  downloadTaskOutput: vi.fn(),
}))
const api = await import('@/api/tasks')
const { default: TaskOutputs } = await import('./TaskOutputs.vue')

describe('task outputs', () => {
  afterEach(() => {
    vi.clearAllMocks()
    document.body.innerHTML = ''
  })

  it('downloads a file with its button, showing the wait and the error by its code', async () => {
    i18n.global.locale.value = 'zh-CN'
    vi.mocked(api.listTaskOutputs).mockResolvedValue({
      files: [
        { path: 'ckpt', size: 4096, modTime: '2026-01-01T00:00:00Z', dir: true },
        { path: 'model.pt', size: 7, modTime: '2026-01-01T00:00:00Z' },
      ],
    })
    let finish: (b: Blob) => void = () => {}
    vi.mocked(api.downloadTaskOutput).mockReturnValueOnce(new Promise<Blob>((r) => (finish = r)))
    const created = vi.fn(() => 'blob:model')
    const saved = { c: URL.createObjectURL, r: URL.revokeObjectURL }
    Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() })
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {})
    const wrapper = mount(TaskOutputs, { props: { taskId: 'task-1' }, global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()

    const buttons = wrapper.findAll('[data-testid="task-output-download"]')
    expect(buttons).toHaveLength(1) // files only, not the folder
    await buttons[0].trigger('click')
    expect(api.downloadTaskOutput).toHaveBeenCalledWith('task-1', 'model.pt')
    expect(wrapper.find('[data-testid="task-output-download"]').classes()).toContain('is-loading')
    finish(new Blob(['weights']))
    await flushPromises()
    expect(created).toHaveBeenCalledTimes(1)
    expect(clicked).toHaveBeenCalledTimes(1)
    expect(wrapper.find('[data-testid="task-output-download"]').classes()).not.toContain('is-loading')
    expect(wrapper.find('[data-testid="task-output-download-error"]').exists()).toBe(false)

    vi.mocked(api.downloadTaskOutput).mockRejectedValueOnce(
      new ApiError({ status: 413, message: 'too large', data: { reason: 'tasks.outputTooLarge', params: { path: 'model.pt', gb: 2 } } }),
    )
    await wrapper.find('[data-testid="task-output-download"]').trigger('click')
    await flushPromises()
    expect(wrapper.find('[data-testid="task-output-download-error"]').text()).toContain('model.pt 下载失败：model.pt 超过 2 GiB，无法下载')
    expect(wrapper.find('[data-testid="task-output-download"]').classes()).not.toContain('is-loading')
    wrapper.unmount()
    clicked.mockRestore()
    Object.assign(URL, { createObjectURL: saved.c, revokeObjectURL: saved.r })
  })
})
