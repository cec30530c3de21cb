import type { Locale } from '@/locales'

/**
 * The API stores texts meant for people in both languages, `中文 / English`
 * (alert messages, what a host did): pick the console's language, or the
 * whole text when it is not split.
 */
export function pickLanguage(text: string, locale: Locale | string): string {
  const at = text.lastIndexOf(' / ')
  if (at >= 0) return locale === 'en' ? text.slice(at + 3) : text.slice(0, at)
  // `…）/ English`: a full-width character right before the slash
  const m = /[\u3000-\u303f\uff00-\uffef]\/ (?!.*[\u3000-\u303f\uff00-\uffef]\/ )/.exec(text)
  if (!m) return text
  return locale === 'en' ? text.slice(m.index + 3) : text.slice(0, m.index + 1)
}
