// The layers of docs/architecture.md, checked by `npm run check` (`npm run lint:layers`).
// Lowest first: a file may import its own layer or a lower one, never a higher one, and no files
// may form an import cycle (type-only imports count). Drivers (HTTP
// routes and guards, the sweep and its job, the Stripe adapter, admin, ops, the Deps type) may
// import any module; only the composition root imports the composition root.
const modules = (names) => `^src/modules/(${names.join('|')})/`
const layers = [
  { name: 'core', path: '^src/(core/|config[.]ts$|logging[.]ts$)' },
  { name: 'foundation', path: modules(['mail', 'jobs']) },
  {
    name: 'identity',
    path: modules(['auth', 'accounts', 'audit', 'plans', 'webhooks', 'invitations', 'keys']),
  },
  { name: 'billing', path: modules(['billing']) },
  { name: 'subscriptions', path: modules(['subscriptions']) },
  { name: 'entitlements', path: modules(['entitlements', 'staff', 'bookings']) },
]
const drivers = [
  '^src/modules/[^/]+/[a-z-]*routes[.]ts$',
  '^src/modules/[^/]+/(guards|rate-limits|issue)[.]ts$',
  '^src/modules/subscriptions/(sweep|jobs)[.]ts$',
  '^src/modules/(stripe|admin|ops)/',
  '^src/deps[.]ts$',
].join('|')
const root = '^src/(app|wiring|server|cli|commands|plan-commands|bootstrap|jobs)[.]ts$|^src/db/'

const upward = layers.slice(0, -1).map((layer, index) => ({
  name: `${layer.name}-imports-upward`,
  comment: `${layer.name} may import only ${layers
    .slice(0, index + 1)
    .map((below) => below.name)
    .join(', ')} (drivers excepted)`,
  severity: 'error',
  from: { path: layer.path, pathNot: drivers },
  to: {
    path: layers
      .slice(index + 1)
      .map((above) => above.path)
      .join('|'),
  },
}))

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle between files (type-only imports included)',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'domain-imports-driver',
      comment:
        'domain code never imports a route, a guard, the sweep, the Stripe adapter, admin, ops or the Deps type',
      severity: 'error',
      from: { path: layers.map((layer) => layer.path).join('|'), pathNot: drivers },
      to: { path: drivers },
    },
    {
      name: 'imports-composition-root',
      comment: 'only the composition root imports the composition root',
      severity: 'error',
      from: { path: '^src/', pathNot: root },
      to: { path: root },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '[.]test[.]ts$|^src/db/migrations/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main', 'types'],
    },
  },
}
