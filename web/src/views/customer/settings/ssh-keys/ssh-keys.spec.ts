import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mountPage } from '@/test/mountPage'
import SshKeysPage from './index.vue'

vi.mock('@/api/sshKeys', () => ({
  listSshKeys: vi.fn(async () => ({
    list: [
      {
        id: 'k1',
        name: 'laptop',
        keyType: 'ssh-ed25519',
        publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO laptop',
        comment: 'laptop',
        fingerprint: 'SHA256:abc',
        createdAt: '2026-01-01T00:00:00Z',
      },
    ],
    total: 1,
    page: 1,
    pageSize: 50,
  })),
  createSshKey: vi.fn(),
  deleteSshKey: vi.fn(async () => ({})),
}))
vi.mock('@/utils/confirm', () => ({ confirmAction: vi.fn(async () => true) }))
const { confirmAction } = await import('@/utils/confirm')
const api = await import('@/api/sshKeys')

describe('SSH keys page', () => {
  afterEach(() => vi.clearAllMocks())

  it('says where the keys land and when they are removed, as the platform does it', async () => {
    const { wrapper } = await mountPage(SshKeysPage, '/customer/settings/ssh-keys')
    const hint = wrapper.find('.hint').text()
    // the login user's authorized_keys of the company's leased machines, the platform's block only
    expect(hint).toContain('authorized_keys')
    expect(hint).toContain('贵公司当前租用的每台机器')
    expect(hint).toContain('平台管理的区块')
    expect(hint).toContain('一分钟内')
    // removed when deleted, when the account is disabled, when the lease ends
    expect(hint).toContain('删除公钥、账号被停用或租期结束时')
    wrapper.unmount()
  })

  it('tells what deleting does on the machines before deleting', async () => {
    const { wrapper } = await mountPage(SshKeysPage, '/customer/settings/ssh-keys')
    await wrapper.find('[data-testid="ssh-key-table"] .el-button--danger').trigger('click')
    await flushPromises()
    expect(vi.mocked(confirmAction).mock.calls[0]![0]).toContain('从贵公司租用的机器上移除')
    expect(api.deleteSshKey).toHaveBeenCalledWith('k1')
    wrapper.unmount()
  })
})
