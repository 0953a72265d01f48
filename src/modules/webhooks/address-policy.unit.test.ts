// The address rule for outgoing webhooks (issue 14, hardening item 7), on its own: which IPs are
// internal, and what a URL alone gives away at registration.
import { describe, expect, it } from 'vitest'
import { blockedAddressReason, urlPolicyProblem } from './address-policy.ts'

describe('blockedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'this network'],
    ['10.0.0.5', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.100.100.200', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.5', 'private'],
    ['::ffff:169.254.169.254', 'link-local (cloud metadata)'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['64:ff9b::a00:5', 'NAT64'],
    ['2002:a00:5::1', '6to4'],
    ['fd00::1', 'unique local (private)'],
    ['fd00:ec2::254', 'unique local (private)'],
    ['fc00::1', 'unique local (private)'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(blockedAddressReason(address)).toBe(reason)
  })

  it.each(['93.184.215.14', '1.1.1.1', '172.32.0.1', '100.128.0.1', '::ffff:8.8.8.8', '2606:4700::1111'])(
    'allows the public address %s',
    (address) => {
      expect(blockedAddressReason(address)).toBeUndefined()
    },
  )

  it('refuses anything that is not an IP address', () => {
    expect(blockedAddressReason('example.com')).toBe('not an IP address')
    expect(blockedAddressReason('')).toBe('not an IP address')
  })
})

describe('urlPolicyProblem', () => {
  const strict = { allowPrivate: false, requireHttps: false }
  const production = { allowPrivate: false, requireHttps: true }

  it('refuses literal internal addresses and localhost, however they are written', () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://localhost/',
      'http://Localhost./',
      'http://a.b.localhost/',
      'http://169.254.169.254/',
    ]) {
      expect(urlPolicyProblem(new URL(url), strict), url).toBeDefined()
    }
  })

  it('leaves host names to the check at delivery, which resolves them', () => {
    expect(urlPolicyProblem(new URL('http://hooks.example.test/x'), strict)).toBeUndefined()
    expect(urlPolicyProblem(new URL('http://localhost.example.test/x'), strict)).toBeUndefined()
  })

  it('requires https in production', () => {
    expect(urlPolicyProblem(new URL('http://hooks.example.test/x'), production)).toBe(
      'Webhook URLs must use https',
    )
    expect(urlPolicyProblem(new URL('https://hooks.example.test/x'), production)).toBeUndefined()
  })

  it('allows everything with WEBHOOK_ALLOW_PRIVATE_URLS', () => {
    const allowing = { allowPrivate: true, requireHttps: true }
    expect(urlPolicyProblem(new URL('http://127.0.0.1:8080/x'), allowing)).toBeUndefined()
    expect(urlPolicyProblem(new URL('http://localhost/x'), allowing)).toBeUndefined()
  })
})
