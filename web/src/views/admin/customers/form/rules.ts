import type { FormRules } from 'element-plus'
import { codeRule, emailRule, maxLength, passwordRule, phoneRule, required, usernameRule } from '@/utils/rules'

export interface CustomerForm {
  code: string
  name: string
  company: string
  email: string
  phone: string
  remark: string
  status: 'active' | 'pending'
  owner: {
    username: string
    name: string
    email: string
    phone: string
    authSource: 'local' | 'ldap'
    password: string
  }
}

export function customerRules(form: CustomerForm): FormRules {
  return {
    name: [required('customer.name'), maxLength(100)],
    company: [required('customer.company'), maxLength(200)],
    email: [required('customer.email'), emailRule()],
    phone: [phoneRule()],
    code: [codeRule()],
    remark: [maxLength(1000)],
    'owner.username': [required('user.username'), usernameRule()],
    'owner.name': [required('user.name'), maxLength(100)],
    'owner.email': [required('user.email'), emailRule()],
    'owner.phone': [phoneRule()],
    'owner.password': [passwordRule(() => form.owner.username)],
  }
}
