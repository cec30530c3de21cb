// Password rules shared by the reset and change-password forms:
// at least 8 characters, at least 3 of upper/lower/digit/symbol,
// and not containing the username.

export type PasswordLevel = 'empty' | 'weak' | 'medium' | 'strong'

export interface PasswordCheck {
  /** ≥ 8 characters */
  length: boolean
  /** how many of upper, lower, digit, symbol it uses */
  classes: number
  /** ≥ 3 classes */
  variety: boolean
  /** does not contain the username */
  notUsername: boolean
  /** all rules pass */
  valid: boolean
  /** 0 (empty) … 4 (strong) */
  score: 0 | 1 | 2 | 3 | 4
  level: PasswordLevel
}

export const MIN_PASSWORD_LENGTH = 8

/** Names the password must not contain: the account itself and, for an e-mail, its local part. */
function forbiddenNames(username: string): string[] {
  const names = new Set<string>()
  const u = username.trim().toLowerCase()
  if (u.length >= 3) names.add(u)
  const at = u.indexOf('@')
  if (at >= 3) names.add(u.slice(0, at))
  return [...names]
}

export function checkPassword(password: string, username = ''): PasswordCheck {
  const classes =
    Number(/[A-Z]/.test(password)) +
    Number(/[a-z]/.test(password)) +
    Number(/[0-9]/.test(password)) +
    Number(/[^A-Za-z0-9]/.test(password))
  const length = [...password].length >= MIN_PASSWORD_LENGTH
  const variety = classes >= 3
  const lower = password.toLowerCase()
  const notUsername = !forbiddenNames(username).some((n) => lower.includes(n))
  const valid = length && variety && notUsername

  let score: PasswordCheck['score']
  if (!password) score = 0
  else if (!valid) score = length && classes >= 2 && notUsername ? 2 : 1
  else if ([...password].length >= 12 && classes === 4) score = 4
  else score = 3

  const level: PasswordLevel = score === 0 ? 'empty' : score <= 2 ? 'weak' : score === 3 ? 'medium' : 'strong'
  return { length, classes, variety, notUsername, valid, score, level }
}
