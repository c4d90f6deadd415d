// Subject and SAN templates: parsing, escaping, placeholder errors, value rules and the DER they
// produce (read back with @peculiar/asn1-x509, an independent decoder).
import { AsnConvert } from '@peculiar/asn1-schema'
import { GeneralNames, Name } from '@peculiar/asn1-x509'
import { describe, expect, it } from 'vitest'
import { CredbakeError, InputError, ManifestError } from '../../src/errors.js'
import { childrenOf, readSingle } from '../../src/x509/der.js'
import { ipAddressBytes, renderSan, validateSanTemplate } from '../../src/issue/san.js'
import { renderSubject, validateSubjectTemplate } from '../../src/issue/subject.js'
import { escapeRfc4514, formatName } from '../../src/x509/name.js'
import { makeDevice } from './support.js'

function thrown(action: () => unknown): CredbakeError {
  try {
    action()
  } catch (error) {
    expect(error).toBeInstanceOf(CredbakeError)
    return error as CredbakeError
  }
  throw new Error('expected an error')
}

/** [oid, value, ASN.1 string tag] per attribute, RDNs in encoded order. */
function decodeName(der: Buffer): Array<Array<[string, string, number]>> {
  const name = AsnConvert.parse(der, Name)
  const tags = childrenOf(der, readSingle(der)).map((rdn) => childrenOf(der, rdn).map((attribute) => childrenOf(der, attribute)[1]?.tag ?? -1))
  return name.map((rdn, i) => rdn.map((attribute, j) => [attribute.type, attribute.value.toString(), tags[i]?.[j] ?? -1]))
}

describe('subject templates', () => {
  const device = makeDevice('SN-0001', { 'device-id': 'aa:bb:cc:dd:ee:ff', region: 'EU West', site: 'Köln' })

  it('renders RFC 4514 text in template order and encodes the RDNs the other way round', () => {
    const template = validateSubjectTemplate('CN={device-id},OU=Fleet {region},O=Acme\\, Inc.,L={site},C=DE')
    const subject = renderSubject(template, device)
    expect(subject.text).toBe('CN=aa:bb:cc:dd:ee:ff,OU=Fleet EU West,O=Acme\\, Inc.,L=Köln,C=DE')
    expect(subject.commonName).toBe('aa:bb:cc:dd:ee:ff')
    expect(decodeName(subject.der)).toEqual([
      [['2.5.4.6', 'DE', 0x13]],
      [['2.5.4.7', 'Köln', 0x0c]],
      [['2.5.4.10', 'Acme, Inc.', 0x0c]],
      [['2.5.4.11', 'Fleet EU West', 0x0c]],
      [['2.5.4.3', 'aa:bb:cc:dd:ee:ff', 0x0c]]
    ])
    // formatName (used for the CA subject) reads the encoded order back to the same text.
    expect(formatName(decodeName(subject.der).map((rdn) => rdn.map(([oid, value]) => ({ oid, value }))))).toBe(subject.text)
  })

  it('treats commas and plus signs in manifest values as data, escaping them only in text', () => {
    const tricky = makeDevice('SN-2', { region: 'A,B+C "D"' })
    const subject = renderSubject(validateSubjectTemplate('CN={device-id},OU={region}'), tricky)
    expect(subject.text).toBe('CN=SN-2,OU=A\\,B\\+C \\"D\\"')
    expect(decodeName(subject.der)[0]).toEqual([['2.5.4.11', 'A,B+C "D"', 0x0c]])
  })

  it('supports escapes, trims unescaped outer spaces and joins multi-valued RDNs with +', () => {
    const template = validateSubjectTemplate(' CN={device-id} + serialNumber={serial}, O = \\ Acme\\2C Ltd \\{x\\} , DC=example')
    const subject = renderSubject(template, makeDevice('SN-3'))
    expect(subject.text).toBe('CN=SN-3+serialNumber=SN-3,O=\\ Acme\\, Ltd {x},DC=example')
    const decoded = decodeName(subject.der)
    expect(decoded[0]).toEqual([['0.9.2342.19200300.100.1.25', 'example', 0x16]])
    expect(decoded[1]).toEqual([['2.5.4.10', ' Acme, Ltd {x}', 0x0c]])
    // One SET with both attributes, in DER (sorted) order: serialNumber (2.5.4.5) after CN (2.5.4.3).
    expect(decoded[2]).toEqual([
      ['2.5.4.3', 'SN-3', 0x0c],
      ['2.5.4.5', 'SN-3', 0x13]
    ])
  })

  it('lists the available fields for an unknown placeholder, up front and per device', () => {
    const upFront = thrown(() => validateSubjectTemplate('CN={device-id},OU={Region}', ['serial', 'device-id', 'region']))
    expect(upFront).toBeInstanceOf(InputError)
    expect(upFront.input).toBe('subject')
    expect(upFront.message).toMatch(/\{Region\} is not a manifest field \(did you mean \{region\}\?.*available fields: \{device-id\}, \{region\}, \{serial\}/)
    const perDevice = thrown(() => renderSubject(validateSubjectTemplate('CN={device-id},OU={zone}'), device))
    expect(perDevice).toBeInstanceOf(InputError)
    expect(perDevice.input).toBe('subject')
    expect(perDevice.serial).toBe('SN-0001')
    expect(perDevice.message).toMatch(/subject .*\{zone\}.*available fields: .*\{region\}.*device SN-0001/)
  })

  it('refuses a CN longer than 64 characters, naming the device', () => {
    const longId = 'x'.repeat(65)
    const error = thrown(() => renderSubject(validateSubjectTemplate('CN={device-id}'), makeDevice('SN-LONG', { 'device-id': longId })))
    expect(error).toBeInstanceOf(ManifestError)
    expect(error.serial).toBe('SN-LONG')
    expect(error.line).toBe(2)
    expect(error.message).toMatch(/device SN-LONG: subject attribute CN is 65 characters long; at most 64/)
    // 64 characters, counted as characters, not bytes.
    const sixtyFour = 'ü'.repeat(64)
    expect(renderSubject(validateSubjectTemplate('CN={device-id}'), makeDevice('SN-OK', { 'device-id': sixtyFour })).commonName).toBe(sixtyFour)
  })

  it('refuses values that break an attribute rule', () => {
    const template = validateSubjectTemplate('CN={device-id},OU={ou},serialNumber={sn}')
    const render = (fields: Record<string, string>) => renderSubject(template, makeDevice('SN-9', { ou: 'x', sn: 'ok', ...fields }))
    expect(thrown(() => render({ ou: '' })).message).toMatch(/OU is empty/)
    expect(thrown(() => render({ ou: 'a\nb' })).message).toMatch(/OU contains a control character \(U\+000A\)/)
    expect(thrown(() => render({ sn: 'no_underscore' })).message).toMatch(/serialNumber must be PrintableString/)
    expect(thrown(() => render({ sn: 'no_underscore' }))).toBeInstanceOf(ManifestError)
  })

  const badTemplates: Array<[string, RegExp]> = [
    ['', /is empty/],
    ['O=Acme', /exactly one CN/],
    ['CN={device-id},CN=x', /exactly one CN/],
    ['CN={serial}', /CN must be exactly \{device-id\}/],
    ['CN=dev-{device-id}', /CN must be exactly \{device-id\}/],
    ['CN={device-id},X=1', /unknown attribute type "X"/],
    ['CN={device-id},O', /is not TYPE=value/],
    ['CN={device-id},,O=x', /empty element/],
    ['CN={device-id},O={bad name}', /bad placeholder/],
    ['CN={device-id},O={open', /bad placeholder/],
    ['CN={device-id},O=a}b', /unmatched "}"/],
    ['CN={device-id},O=a\\qb', /backslash must escape/],
    ['CN={device-id},C=Germany', /C is 7 characters long/],
    ['CN={device-id},C=de', /two-letter upper-case/],
    ['CN={device-id},O=' + 'o'.repeat(65), /O is 65 characters long/]
  ]
  it.each(badTemplates)('refuses the template %j', (template, reason) => {
    const error = thrown(() => validateSubjectTemplate(template))
    expect(error).toBeInstanceOf(InputError)
    expect(error.input).toBe('subject')
    expect(error.message).toContain('subject')
    expect(error.message).toMatch(reason)
  })

  it('escapes RFC 4514 specials', () => {
    expect(escapeRfc4514('#lead')).toBe('\\#lead')
    expect(escapeRfc4514(' lead and trail ')).toBe('\\ lead and trail\\ ')
    expect(escapeRfc4514('a,b+c;d<e>f"g\\h=i')).toBe('a\\,b\\+c\\;d\\<e\\>f\\"g\\\\h\\=i')
  })
})

describe('SAN templates', () => {
  const device = makeDevice('SN-7', { 'device-id': 'urn-id-7', ip: '192.0.2.7' })

  it('encodes DNS, URI, IP (v4 and v6) and email entries as GeneralNames', () => {
    const template = validateSanTemplate('DNS:{serial}.devices.example.com, URI:urn:dev:{device-id}, IP:{ip}, IP:2001:db8::1, email:ops+{serial}@example.com')
    const names = AsnConvert.parse(renderSan(template, device), GeneralNames)
    const described = names.map((name) =>
      name.dNSName !== undefined
        ? `DNS:${name.dNSName}`
        : name.uniformResourceIdentifier !== undefined
          ? `URI:${name.uniformResourceIdentifier}`
          : name.rfc822Name !== undefined
            ? `email:${name.rfc822Name}`
            : `IP:${String(name.iPAddress)}`
    )
    expect(described).toEqual(['DNS:SN-7.devices.example.com', 'URI:urn:dev:urn-id-7', 'IP:192.0.2.7', 'IP:2001:db8::1', 'email:ops+SN-7@example.com'])
  })

  it('converts IP addresses to 4 or 16 octets', () => {
    expect(ipAddressBytes('10.1.2.3')?.toString('hex')).toBe('0a010203')
    expect(ipAddressBytes('::1')?.toString('hex')).toBe('0'.repeat(31) + '1')
    expect(ipAddressBytes('2001:db8::8a2e:370:7334')?.toString('hex')).toBe('20010db8000000000000' + '8a2e03707334')
    expect(ipAddressBytes('::ffff:1.2.3.4')?.toString('hex')).toBe('00000000000000000000ffff01020304')
    expect(ipAddressBytes('fe80::')?.toString('hex')).toBe('fe80' + '0'.repeat(28))
    expect(ipAddressBytes('1.2.3')).toBeUndefined()
    expect(ipAddressBytes('host.example')).toBeUndefined()
  })

  it('refuses bad templates (InputError naming san) and bad rendered values (ManifestError naming the device)', () => {
    for (const [template, reason] of [
      ['FTP:x', /must start with DNS:, URI:, IP: or email:/],
      ['DNS:bad_label.example', /is not a DNS name/],
      ['IP:300.1.1.1', /is not an IPv4 or IPv6 address/],
      ['URI:no-scheme', /is not an absolute ASCII URI/],
      ['email:nobody', /is not an ASCII e-mail address/],
      ['DNS:{unknown}', /available fields/]
    ] as const) {
      const error = thrown(() => {
        const parsed = validateSanTemplate(template, Object.keys(device.fields))
        renderSan(parsed, device)
      })
      expect(error).toBeInstanceOf(InputError)
      expect(error.input).toBe('san')
      expect(error.message).toMatch(reason)
    }
    const perDevice = thrown(() => renderSan(validateSanTemplate('DNS:{device-id}.example'), makeDevice('SN-8', { 'device-id': 'has space' })))
    expect(perDevice).toBeInstanceOf(ManifestError)
    expect(perDevice.serial).toBe('SN-8')
    expect(perDevice.message).toMatch(/device SN-8: san entry DNS:has space.example is not a DNS name/)
  })
})
