import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN'
import en from './en'
import { codesEn, codesZh } from './codes'

export type MessageSchema = typeof zhCN & { codes: typeof codesZh }
export type Locale = 'zh-CN' | 'en'

export const LOCALES: { value: Locale; label: string }[] = [
  { value: 'zh-CN', label: '简体中文' },
  { value: 'en', label: 'English' },
]

export const LOCALE_KEY = 'remotegpu.locale'

export function savedLocale(): Locale {
  const saved = typeof localStorage === 'undefined' ? null : localStorage.getItem(LOCALE_KEY)
  return saved === 'en' || saved === 'zh-CN' ? saved : 'zh-CN'
}

export const i18n = createI18n<[MessageSchema], Locale, false>({
  legacy: false,
  locale: savedLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': { ...zhCN, codes: codesZh }, en: { ...en, codes: codesEn } },
})

/**
 * The text of a message the API names by a code (an error's data.reason, a
 * stored event's code) with its parameters, in the console's language; the
 * API's own English text when the console does not know the code.
 */
export function codeText(code: string | undefined | null, params: Record<string, unknown> | undefined | null, fallback: string): string {
  const key = `codes.${code}`
  if (!code || !i18n.global.te(key)) return fallback
  return i18n.global.t(key, (params ?? {}) as Record<string, unknown>)
}
