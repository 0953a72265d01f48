// Which destinations an outgoing webhook may reach. An admin chooses the URL and reads the outcome
// back from the delivery log, so without this rule a webhook endpoint is a probe into the internal
// network (loopback services, the cloud metadata endpoint, private ranges). Every address a
// delivery would connect to is checked here, after DNS resolution.
import { BlockList, isIP } from 'node:net'
import type { Config } from '../../config.ts'

// Ranges that are not the public internet (IANA special-purpose registries, RFC 6890 and later).
const blockedV4: [string, number, string][] = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
]
const blockedV6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  // IPv4-compatible, NAT64 and 6to4/Teredo addresses carry an IPv4 address inside; a public service
  // is never published under them, so they are refused whole. IPv4-mapped ones (::ffff:a.b.c.d)
  // are checked as the IPv4 address they stand for (BlockList maps them onto the IPv4 ranges).
  ['::', 96, 'IPv4-compatible'],
  ['64:ff9b::', 96, 'NAT64'],
  ['64:ff9b:1::', 48, 'NAT64 (local use)'],
  ['100::', 64, 'discard'],
  ['2001::', 32, 'Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
]

const toLists = (ranges: [string, number, string][], family: 'ipv4' | 'ipv6') =>
  ranges.map(([network, prefix, name]) => {
    const list = new BlockList()
    list.addSubnet(network, prefix, family)
    return { list, name }
  })
const v4Lists = toLists(blockedV4, 'ipv4')
const v6Lists = toLists(blockedV6, 'ipv6')

/** Strips the brackets URL.hostname keeps around an IPv6 literal. */
export const bareHost = (hostname: string) =>
  hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname

/**
 * Why an IP address may not be the target of a webhook (`loopback`, `private`, …), or undefined
 * when it is a public address. Anything that is not a valid IP is refused too.
 */
export function blockedAddressReason(address: string): string | undefined {
  const family = isIP(address)
  if (family === 0) return 'not an IP address'
  // An IPv4 address is only checked against IPv4 ranges: BlockList would also match it, as
  // ::ffff:a.b.c.d, against IPv6 ranges. An IPv6 address is checked against both, so an
  // IPv4-mapped one meets the IPv4 ranges.
  if (family === 4) return v4Lists.find(({ list }) => list.check(address, 'ipv4'))?.name
  return [...v6Lists, ...v4Lists].find(({ list }) => list.check(address, 'ipv6'))?.name
}

/** `localhost` and its subdomains always mean this machine (RFC 6761), whatever DNS says. */
export const isLocalhostName = (hostname: string) => /(^|\.)localhost\.?$/i.test(hostname)

export interface UrlPolicy {
  /** WEBHOOK_ALLOW_PRIVATE_URLS: development and tests. */
  allowPrivate: boolean
  /** Production requires https (unless private URLs are allowed). */
  requireHttps: boolean
}

/** The policy the configuration asks for. */
export const webhookUrlPolicy = (
  config: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_PRIVATE_URLS'>,
): UrlPolicy => ({
  allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_URLS,
  requireHttps: config.NODE_ENV === 'production',
})

/**
 * What can be known from the URL alone, at registration: a literal internal IP, `localhost`, or
 * plain http where https is required. Names are checked again, resolved, at every delivery.
 */
export function urlPolicyProblem(url: URL, policy: UrlPolicy): string | undefined {
  if (policy.allowPrivate) return undefined
  if (policy.requireHttps && url.protocol !== 'https:') return 'Webhook URLs must use https'
  const host = bareHost(url.hostname)
  if (isLocalhostName(host)) return 'Webhook URLs may not point at localhost'
  if (isIP(host) !== 0) {
    const reason = blockedAddressReason(host)
    if (reason) return `Webhook URLs may not point at an internal address (${reason})`
  }
  return undefined
}
