import type { RouteRecordRaw } from 'vue-router'
import { routes } from '@/router/routes'

const Stub = { render: () => null }

function stubbed(list: RouteRecordRaw[]): RouteRecordRaw[] {
  return list.map((r) => {
    const copy = { ...r } as RouteRecordRaw & { component?: unknown }
    if ('component' in r && r.component) copy.component = Stub
    if (r.children) copy.children = stubbed(r.children)
    return copy as RouteRecordRaw
  })
}

/** The real route table (paths, names, meta) with every page replaced by a stub, so that nothing is loaded. */
export const stubRoutes = () => stubbed(routes)
