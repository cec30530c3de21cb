import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { mount, flushPromises } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { ApiError } from '@/api/core'
import type { MachineImportDetail } from '@/api/types'
import { i18n } from '@/locales'
import { stubRoutes } from '@/test/stubRoutes'
import { POLL_MS, useMachineImport } from './useMachineImport'

vi.mock('@/api/machineImports', () => ({
  downloadImportTemplate: vi.fn(),
  uploadImport: vi.fn(),
  confirmImport: vi.fn(),
  getImport: vi.fn(),
  listImports: vi.fn(),
}))
vi.mock('@/utils/confirm', () => ({ confirmAction: vi.fn(async () => true) }))
const api = await import('@/api/machineImports')

const base = (over: Partial<MachineImportDetail> = {}): MachineImportDetail => ({
  id: 'imp-1',
  fileName: 'machines.xlsx',
  fileSize: 1000,
  sheet: '机器',
  status: 'previewed',
  total: 3,
  valid: 2,
  invalid: 1,
  duplicates: 0,
  processed: 0,
  created: 0,
  skipped: 0,
  error: '',
  createdByName: 'admin',
  confirmedByName: '',
  createdAt: '2026-01-01T00:00:00Z',
  confirmedAt: null,
  finishedAt: null,
  updatedAt: '2026-01-01T00:00:00Z',
  rows: [
    { row: 2, name: 'a', values: { name: 'a' }, generated: [], status: 'valid', errors: [], result: 'pending', reason: '' },
    { row: 3, name: 'b', values: { name: 'b' }, generated: [], status: 'valid', errors: [], result: 'pending', reason: '' },
    {
      row: 4,
      name: 'c c',
      values: { name: 'c c' },
      generated: [],
      status: 'invalid',
      errors: [{ field: 'name', message: 'bad name', cell: 'A4' }],
      result: 'pending',
      reason: '',
    },
  ],
  ...over,
})

async function setup(path = '/admin/machines/import') {
  let imp!: ReturnType<typeof useMachineImport>
  const Page = defineComponent({
    setup() {
      imp = useMachineImport()
      return () => h('div')
    },
  })
  const router = createRouter({ history: createMemoryHistory(), routes: stubRoutes() })
  await router.push(path)
  mount(Page, { global: { plugins: [createPinia(), i18n, router] } })
  await flushPromises()
  return { imp: () => imp, router }
}

const xlsx = () =>
  new File([new Uint8Array(100)], 'machines.xlsx', { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' })

describe('useMachineImport', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    vi.mocked(api.listImports).mockResolvedValue({ list: [], total: 0, page: 1, pageSize: 5 })
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.clearAllMocks()
  })

  it('previews an upload, opening on the rows with errors, and names it in the URL', async () => {
    vi.mocked(api.uploadImport).mockResolvedValue(base())
    const { imp, router } = await setup()
    await imp().upload(xlsx())
    await flushPromises()
    expect(imp().stage.value).toBe('preview')
    expect(imp().previewFilter.value).toBe('invalid')
    expect(imp().filteredRows.value.map((r) => r.row)).toEqual([4])
    expect(router.currentRoute.value.query.id).toBe('imp-1')
  })

  it('refuses a file that is not .xlsx without sending it', async () => {
    const { imp } = await setup()
    await imp().upload(new File(['a,b'], 'machines.csv', { type: 'text/csv' }))
    expect(api.uploadImport).not.toHaveBeenCalled()
    expect(imp().stage.value).toBe('upload')
  })

  it('shows why the API refused the file as a whole', async () => {
    vi.mocked(api.uploadImport).mockRejectedValue(
      new ApiError({ status: 400, message: 'formulas', data: { reason: 'machines.import.formulas', params: { kind: 'formulas', list: 'E5', cells: ['E5'] } } }),
    )
    const { imp } = await setup()
    await imp().upload(xlsx())
    expect(imp().problem.value).toEqual({ reason: 'formulas', message: '不支持公式，请将这些单元格改为数值（复制后“选择性粘贴为数值”）：E5', where: ['E5'] })
    expect(imp().stage.value).toBe('upload')
  })

  it('confirms, polls the counters every second while it runs, then loads the rows with their results', async () => {
    vi.mocked(api.uploadImport).mockResolvedValue(base())
    const { imp } = await setup()
    await imp().upload(xlsx())
    await flushPromises()

    vi.mocked(api.confirmImport).mockResolvedValue(base({ status: 'running', rows: [] }))
    vi.mocked(api.getImport)
      .mockResolvedValueOnce(base({ status: 'running', processed: 1, created: 1, rows: [] }))
      .mockResolvedValueOnce(base({ status: 'running', processed: 2, created: 2, rows: [] }))
      .mockResolvedValueOnce(base({ status: 'done', processed: 3, created: 2, rows: [] }))
      .mockResolvedValueOnce(
        base({
          status: 'done',
          processed: 3,
          created: 2,
          rows: base().rows!.map((r) => ({ ...r, result: r.status === 'valid' ? 'created' : 'invalid' })),
        }),
      )

    await imp().confirm()
    await flushPromises()
    expect(imp().stage.value).toBe('running')
    // the first poll runs at once
    expect(api.getImport).toHaveBeenLastCalledWith('imp-1', false, true)
    expect(imp().percent.value).toBe(33)

    await vi.advanceTimersByTimeAsync(POLL_MS)
    await flushPromises()
    expect(imp().percent.value).toBe(67)
    expect(api.getImport).toHaveBeenCalledTimes(2)

    await vi.advanceTimersByTimeAsync(POLL_MS)
    await flushPromises()
    expect(imp().stage.value).toBe('result')
    expect(api.getImport).toHaveBeenLastCalledWith('imp-1', true)
    expect(imp().filteredRows.value.map((r) => r.result)).toEqual(['created', 'created', 'invalid'])

    // and then it stops
    await vi.advanceTimersByTimeAsync(POLL_MS * 3)
    expect(api.getImport).toHaveBeenCalledTimes(4)
  })

  it('comes back to a running import after a reload and follows it', async () => {
    vi.mocked(api.getImport)
      .mockResolvedValueOnce(base({ status: 'running', processed: 1, rows: [] }))
      .mockResolvedValueOnce(base({ status: 'running', processed: 2, rows: [] }))
    const { imp } = await setup('/admin/machines/import?id=imp-1')
    expect(api.getImport).toHaveBeenCalledWith('imp-1', true)
    expect(imp().stage.value).toBe('running')
    await vi.advanceTimersByTimeAsync(POLL_MS)
    await flushPromises()
    expect(imp().current.value?.processed).toBe(2)
  })
})
