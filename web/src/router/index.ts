import { createRouter, createWebHistory } from 'vue-router'
import { useUserStore } from '@/store/modules/user'
import { createAccessGuard, createLoginGuard, type GuardContext } from './guards'
import { routes } from './routes'

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

const ctx: GuardContext = {
  hasSession: () => useUserStore().hasSession(),
  role: () => useUserStore().role,
  async loadUser() {
    const user = useUserStore()
    try {
      return (await user.fetchMe()).role
    } catch {
      user.reset()
      return null
    }
  },
}

router.beforeEach(createLoginGuard(ctx))
router.beforeEach(createAccessGuard(ctx))
