// Every message the API names by a code, in both languages: t('codes.<code>').
// A capability's codes are "<capability>.<key>" and live in <capability>.ts.
import * as common from './common'
import * as lease from './lease'
import * as accounts from './accounts'
import * as alerting from './alerting'
import * as machines from './machines'
import * as monitoring from './monitoring'
import * as live from './live'
import * as tasks from './tasks'
import * as notices from './notices'
import * as datasets from './datasets'
import * as uploads from './uploads'
import * as mounts from './mounts'
import * as storage from './storage'

export const codesZh = {
  ...common.zh,
  lease: lease.zh,
  accounts: accounts.zh,
  alerting: alerting.zh,
  monitoring: monitoring.zh,
  live: live.zh,
  machines: machines.zh,
  tasks: tasks.zh,
  notices: notices.zh,
  datasets: datasets.zh,
  uploads: uploads.zh,
  mounts: mounts.zh,
  storage: storage.zh,
}

export const codesEn: typeof codesZh = {
  ...common.en,
  lease: lease.en,
  accounts: accounts.en,
  alerting: alerting.en,
  monitoring: monitoring.en,
  live: live.en,
  machines: machines.en,
  tasks: tasks.en,
  notices: notices.en,
  datasets: datasets.en,
  uploads: uploads.en,
  mounts: mounts.en,
  storage: storage.en,
}
