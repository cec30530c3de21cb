import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { VueWrapper } from '@vue/test-utils'
import { ApiError } from '@/api/core'
import type { UploadFileSpec, UploadFileState } from '@/api/datasets'
import { flushPromises, mountPage } from '@/test/mountPage'
import { inlineHasher } from '@/utils/upload/hasher'
import { RESUME_KEY } from '@/utils/upload/resume'

const MiB = 1024 * 1024
const fake = {
  create: vi.fn(),
  init: vi.fn(),
  open: vi.fn(async () => [] as UploadFileState[]),
  putPart: vi.fn(async (_d: string, _u: string, n: number, _b?: Blob, _md5?: string) => ({ partNumber: n, confirmed: true })),
  complete: vi.fn(async () => ({})),
  finish: vi.fn(async () => ({})),
}
vi.mock('@/api/datasets', async (original) => ({
  ...(await original<typeof import('@/api/datasets')>()),
  uploadApi: () => fake,
}))
vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listAvailableMachines: vi.fn(async () => []),
}))
const { hashing } = await import('@/components/datasets/useUploader')
const { default: Page } = await import('./index.vue')
hashing.hasher = inlineHasher

/** the server's answer to init: `known` paths are instant, the others open with `confirmed` parts */
function answer(known: string[] = [], confirmed: Record<string, number[]> = {}) {
  return async (_id: string, files: UploadFileSpec[]): Promise<UploadFileState[]> =>
    files.map((f) => ({
      path: f.path,
      uploadId: `up-${f.path}`,
      state: known.includes(f.path) ? 'done' : 'open',
      chunkSize: 5 * MiB,
      chunkCount: Math.max(1, Math.ceil(f.size / (5 * MiB))),
      confirmedParts: confirmed[f.path] ?? [],
    }))
}

function file(name: string, size: number, relative = '') {
  const f = new File([new Uint8Array(size)], name)
  if (relative) Object.defineProperty(f, 'webkitRelativePath', { value: relative })
  return f
}

async function pick(wrapper: VueWrapper, testid: string, files: File[]) {
  const input = wrapper.find(`[data-testid="${testid}"]`)
  Object.defineProperty(input.element, 'files', { value: files, configurable: true })
  await input.trigger('change')
  await flushPromises()
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 4000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
    await flushPromises()
  }
}

const phase = (w: VueWrapper) => w.find('[data-testid="uploader"]').attributes('data-phase')

describe('upload page', () => {
  beforeEach(() => {
    for (const f of Object.values(fake)) f.mockClear()
  })
  afterEach(() => {
    document.body.innerHTML = ''
    vi.restoreAllMocks()
  })

  it('uploads a folder: declares the files, sends the parts, shows 秒传, completes and finishes', async () => {
    fake.create.mockResolvedValue({ id: 'new-ds', name: 'pets' })
    fake.init.mockImplementation(answer(['pets/same.txt']))
    const { wrapper } = await mountPage(Page, '/customer/datasets/upload')
    await wrapper.find('input[data-testid="ds-name"]').setValue('pets')
    await pick(wrapper, 'folder-input', [file('a.bin', 6 * MiB, 'pets/a.bin'), file('same.txt', 10, 'pets/same.txt'), file('b.zip', 100, 'pets/b.zip')])
    expect(wrapper.find('[data-testid="picked-summary"]').text()).toContain('3 个文件')
    await wrapper.find('[data-testid="upload-start"]').trigger('submit')
    await until(() => phase(wrapper) === 'done', 'the upload to finish')

    expect(fake.create).toHaveBeenCalledWith(expect.objectContaining({ name: 'pets', type: 'image', access: 'private', totalBytes: 6 * MiB + 110 }))
    const specs = fake.init.mock.calls[0][1] as UploadFileSpec[]
    expect(specs.map((s) => [s.path, s.archive])).toEqual([
      ['pets/a.bin', false],
      ['pets/same.txt', false],
      ['pets/b.zip', true],
    ])
    expect(specs[0].md5).toMatch(/^[0-9a-f]{32}$/)
    // a.bin: two parts; b.zip: one; same.txt: nothing (instant)
    expect(fake.putPart.mock.calls.map((c) => `${c[1]}#${c[2]}`).sort()).toEqual(['up-pets/a.bin#1', 'up-pets/a.bin#2', 'up-pets/b.zip#1'])
    expect(fake.putPart.mock.calls[0][4]).toMatch(/==$/) // Content-MD5 in base64
    expect(fake.complete).toHaveBeenCalledTimes(2)
    expect(fake.finish).toHaveBeenCalledWith('new-ds')
    expect(wrapper.find('[data-testid="upload-status-pets/same.txt"]').text()).toBe('秒传')
    expect(wrapper.find('[data-testid="upload-status-pets/a.bin"]').text()).toBe('已完成')
    expect(wrapper.find('[data-testid="upload-done"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="done-mount"]').exists()).toBe(true)
    // finished: nothing left to resume
    expect(localStorage.getItem(RESUME_KEY)).toBeNull()
    wrapper.unmount()
  })

  it('refuses an upload over the quota before sending a byte, saying what is needed and free', async () => {
    fake.create.mockRejectedValue(
      new ApiError({ status: 409, message: 'Not enough storage', data: { reason: 'uploads.quotaExceeded', params: { need: 2 * 1024 ** 3, free: 1024 ** 3, quota: 100 * 1024 ** 3 } } }),
    )
    const { wrapper } = await mountPage(Page, '/customer/datasets/upload')
    await wrapper.find('input[data-testid="ds-name"]').setValue('big')
    await pick(wrapper, 'file-input', [file('x.bin', 10)])
    await wrapper.find('[data-testid="upload-start"]').trigger('submit')
    await until(() => wrapper.find('[data-testid="upload-error"]').exists(), 'the error')
    expect(wrapper.find('[data-testid="upload-error"]').text()).toContain('需要 2 GiB，剩余 1 GiB')
    expect(fake.init).not.toHaveBeenCalled()
    expect(fake.putPart).not.toHaveBeenCalled()
    wrapper.unmount()
  })

  it('asks for files before starting', async () => {
    const { wrapper } = await mountPage(Page, '/customer/datasets/upload')
    await wrapper.find('input[data-testid="ds-name"]').setValue('empty')
    await wrapper.find('[data-testid="upload-start"]').trigger('submit')
    await flushPromises()
    await new Promise((r) => setTimeout(r, 150))
    expect(wrapper.text()).toContain('请选择要上传的文件')
    expect(fake.create).not.toHaveBeenCalled()
    wrapper.unmount()
  })

  it('offers to resume an unfinished upload and sends only the parts the server lacks', async () => {
    vi.spyOn(localStorage, 'clear').mockImplementation(() => undefined)
    localStorage.setItem(
      RESUME_KEY,
      JSON.stringify([
        {
          datasetId: 'old-ds',
          name: 'old',
          scope: 'customer',
          createdAt: '2026-01-01T00:00:00Z',
          files: [
            { path: 'data/big.bin', size: 12 * MiB },
            { path: 'data/done.txt', size: 3, done: true },
          ],
        },
      ]),
    )
    fake.init.mockImplementation(answer([], { 'data/big.bin': [1, 2] }))
    const { wrapper } = await mountPage(Page, '/customer/datasets/upload')
    const banner = wrapper.find('[data-testid="resume-banner"]')
    expect(banner.text()).toContain('old')
    expect(banner.text()).toContain('1 个文件')
    await wrapper.find('[data-testid="resume-folder"]').trigger('click')
    await pick(wrapper, 'resume-folder-input', [file('big.bin', 12 * MiB, 'data/big.bin'), file('done.txt', 3, 'data/done.txt')])
    await until(() => phase(wrapper) === 'done', 'the resumed upload to finish')
    expect(fake.open).toHaveBeenCalledWith('old-ds')
    expect(fake.create).not.toHaveBeenCalled()
    // the file already done is not declared again; of big.bin only part 3 goes
    expect((fake.init.mock.calls[0][1] as UploadFileSpec[]).map((s) => s.path)).toEqual(['data/big.bin'])
    expect(fake.putPart.mock.calls.map((c) => c[2])).toEqual([3])
    expect(fake.finish).toHaveBeenCalledWith('old-ds')
    expect(localStorage.getItem(RESUME_KEY)).toBeNull()
    wrapper.unmount()
  })
})
