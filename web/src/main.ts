import { createApp } from 'vue'
import { ElMessage } from 'element-plus'
// Styles of the Element Plus services called from scripts; template
// components bring their own CSS through unplugin-vue-components.
import 'element-plus/theme-chalk/base.css'
import 'element-plus/theme-chalk/el-message.css'
import 'element-plus/theme-chalk/el-message-box.css'
import 'element-plus/theme-chalk/el-overlay.css'
import 'element-plus/theme-chalk/el-button.css'
import 'element-plus/theme-chalk/el-input.css'
import './styles/index.css'

import App from './App.vue'
import { pinia } from './store'
import { i18n } from './locales'
import { router } from './router'
import { setAuthFailureHandler } from './api/http'
import { useUserStore } from './store/modules/user'

const app = createApp(App)
app.use(pinia).use(i18n).use(router)

// The refresh token is gone or refused: log out and come back after login.
setAuthFailureHandler(() => {
  useUserStore().reset()
  const current = router.currentRoute.value
  // During the first navigation the login guard does the redirect itself.
  if (!current.matched.length || current.meta.public) return
  ElMessage.warning({ message: i18n.global.t('auth.sessionExpired'), grouping: true })
  void router.push({ path: '/login', query: { redirect: current.fullPath } })
})

app.mount('#app')
