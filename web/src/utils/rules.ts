// Element Plus form rules shared by several pages. Messages are translated
// when a rule runs, so a language switch applies to an open form too.
import type { FormItemRule } from 'element-plus'
import { i18n } from '@/locales'
import { checkPassword, MIN_PASSWORD_LENGTH } from './password'

const t = (key: string, named: Record<string, unknown> = {}) => i18n.global.t(key, named)

type Trigger = 'blur' | 'change' | ('blur' | 'change')[]

/** A rule from a predicate; empty values pass (combine with `required`). */
function check(test: (value: string) => boolean, messageKey: string, trigger: Trigger = 'blur'): FormItemRule {
  return {
    trigger,
    validator: (_r, value: unknown, cb) =>
      value === undefined || value === null || value === '' || test(String(value)) ? cb() : cb(new Error(t(messageKey))),
  }
}

/** `labelKey` is the i18n key of the field's label. */
export const required = (labelKey: string, trigger: Trigger = 'blur'): FormItemRule => ({
  required: true,
  trigger,
  validator: (_r, value: unknown, cb) =>
    value === undefined || value === null || String(value).trim() === ''
      ? cb(new Error(t('validation.required', { field: t(labelKey) })))
      : cb(),
})

export const emailRule = () => check((v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v), 'validation.email')

/** The API's own phone pattern: digits, +, -, parentheses and spaces, at most 32. */
export const phoneRule = () => check((v) => /^[0-9+\-() ]{1,32}$/.test(v), 'validation.phone')

/** A customer's short code (its LDAP tenant attribute). */
export const codeRule = () => check((v) => /^[a-z0-9][a-z0-9-]{1,31}$/.test(v), 'validation.code')

export const usernameRule = () => check((v) => /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/.test(v), 'validation.username')

export const maxLength = (n: number): FormItemRule => ({
  trigger: 'blur',
  validator: (_r, value: unknown, cb) =>
    typeof value === 'string' && value.length > n ? cb(new Error(t('validation.maxLength', { n }))) : cb(),
})

/** The password rules; `username` is read when validating. */
export const passwordRule = (username: () => string): FormItemRule => ({
  trigger: ['blur', 'change'],
  validator: (_r, value: string, cb) => {
    if (!value) return cb()
    const c = checkPassword(value, username())
    if (!c.length) return cb(new Error(t('password.ruleLength', { n: MIN_PASSWORD_LENGTH })))
    if (!c.variety) return cb(new Error(t('password.ruleVariety')))
    if (!c.notUsername) return cb(new Error(t('password.ruleUsername')))
    cb()
  },
})

export const sameAs = (other: () => string): FormItemRule => ({
  trigger: ['blur', 'change'],
  validator: (_r, value: string, cb) => (value && value !== other() ? cb(new Error(t('password.mismatch'))) : cb()),
})
