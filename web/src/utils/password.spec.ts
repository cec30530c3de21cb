import { describe, expect, it } from 'vitest'
import { checkPassword } from './password'

describe('checkPassword', () => {
  it.each([
    // password, username, valid, level
    ['', '', false, 'empty'],
    ['abc', '', false, 'weak'],
    ['abcdefgh', '', false, 'weak'], // one class
    ['abcdefg1', '', false, 'weak'], // two classes
    ['Abcdefg1', '', true, 'medium'], // upper, lower, digit
    ['abcdef1!', '', true, 'medium'], // lower, digit, symbol
    ['ABCDEF1!', '', true, 'medium'], // upper, digit, symbol
    ['Abc1!', '', false, 'weak'], // four classes but short
    ['Correct-Horse-9', '', true, 'strong'], // ≥ 12 and four classes
    ['Owner@12345', 'acme-owner', true, 'medium'],
  ] as const)('%j (user %j) → valid %s, %s', (password, username, valid, level) => {
    const c = checkPassword(password, username)
    expect(c.valid).toBe(valid)
    expect(c.level).toBe(level)
  })

  it('counts character classes', () => {
    expect(checkPassword('aaaa').classes).toBe(1)
    expect(checkPassword('aA').classes).toBe(2)
    expect(checkPassword('aA1').classes).toBe(3)
    expect(checkPassword('aA1 ').classes).toBe(4)
    expect(checkPassword('密码Aa1').classes).toBe(4) // non-ASCII counts as a symbol
  })

  it('needs at least 8 characters, counted as code points', () => {
    expect(checkPassword('Aa1!Aa1').length).toBe(false)
    expect(checkPassword('Aa1!Aa1!').length).toBe(true)
    expect(checkPassword('😀😀😀Aa1!').length).toBe(false) // 7 code points, 10 UTF-16 units
  })

  it('rejects a password that contains the username, whatever the case', () => {
    const c = checkPassword('xxAcme-Owner1!', 'acme-owner')
    expect(c.notUsername).toBe(false)
    expect(c.valid).toBe(false)
    expect(c.score).toBeLessThanOrEqual(1)
  })

  it('checks the local part of an e-mail account too', () => {
    expect(checkPassword('Jane.doe#2024', 'jane.doe@example.com').notUsername).toBe(false)
    expect(checkPassword('Jane.doe#2024', 'someone@example.com').notUsername).toBe(true)
  })

  it('ignores usernames too short to mean anything', () => {
    expect(checkPassword('Ab1!Ab1!', 'ab').notUsername).toBe(true)
  })

  it('scores a near miss above a clearly weak password', () => {
    expect(checkPassword('abcdefg1').score).toBe(2)
    expect(checkPassword('abc').score).toBe(1)
  })
})
