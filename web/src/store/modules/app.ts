import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import dayjs from 'dayjs'
import 'dayjs/locale/zh-cn'
import elZhCn from 'element-plus/es/locale/lang/zh-cn'
import elEn from 'element-plus/es/locale/lang/en'
import { i18n, LOCALE_KEY, type Locale } from '@/locales'

const SIDEBAR_KEY = 'remotegpu.sidebarCollapsed'

function applyLocale(locale: Locale) {
  i18n.global.locale.value = locale
  dayjs.locale(locale === 'en' ? 'en' : 'zh-cn')
  document.documentElement.lang = locale
}

export const useAppStore = defineStore('app', () => {
  const locale = ref<Locale>(i18n.global.locale.value)
  const sidebarCollapsed = ref(localStorage.getItem(SIDEBAR_KEY) === '1')
  /** Element Plus follows the console's language. */
  const elementLocale = computed(() => (locale.value === 'en' ? elEn : elZhCn))

  applyLocale(locale.value)

  function setLocale(next: Locale) {
    locale.value = next
    localStorage.setItem(LOCALE_KEY, next)
    applyLocale(next)
  }

  function toggleSidebar() {
    sidebarCollapsed.value = !sidebarCollapsed.value
    localStorage.setItem(SIDEBAR_KEY, sidebarCollapsed.value ? '1' : '0')
  }

  return { locale, sidebarCollapsed, elementLocale, setLocale, toggleSidebar }
})
