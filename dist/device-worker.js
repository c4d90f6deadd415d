import 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as crypto from 'node:crypto';
import { verify, createHash, randomFillSync, generateKeyPair, generateKeyPairSync, createECDH, sign, createPublicKey } from 'node:crypto';
import path from 'node:path';
import { constants, openSync, fstatSync, readSync, closeSync, mkdirSync, lstatSync, readlinkSync, existsSync, writeSync, readdirSync, rmSync, renameSync, chmodSync, fchmodSync, chownSync, readFileSync } from 'node:fs';
import { open, lstat, readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { gzipSync, gunzipSync } from 'node:zlib';

// Typed errors. Every error a user can cause carries the input it is about, so the message can
// name it; the CLI maps the class to an exit code (documented in README "Exit codes").
class CredbakeError extends Error {
    kind;
    input;
    file;
    line;
    serial;
    constructor(kind, message, details = {}) {
        super(message, details.cause === undefined ? undefined : { cause: details.cause });
        this.name = new.target.name;
        this.kind = kind;
        this.input = details.input;
        this.file = details.file;
        this.line = details.line;
        this.serial = details.serial;
    }
}
/** An option value that is missing, malformed or contradicts another option. */
class InputError extends CredbakeError {
    constructor(message, details = {}) {
        super('input', message, details);
    }
}
/** A problem in the device manifest; `file` and `line` point at the row. */
class ManifestError extends CredbakeError {
    constructor(message, details = {}) {
        super('manifest', message, { input: 'manifest', ...details });
    }
}
/** The fleet CA certificate or key cannot be used to issue device certificates. */
class FleetCaError extends CredbakeError {
    constructor(message, details = {}) {
        super('fleet-ca', message, details);
    }
}
/** Outputs cannot be written (permissions, disk full, partition full). */
class OutputError extends CredbakeError {
    constructor(message, details = {}) {
        super('output', message, { input: 'output-dir', ...details });
    }
}
function isCredbakeError(error) {
    return error instanceof CredbakeError;
}
/** Message of any thrown value, for wrapping errors from libraries. */
function messageOf(error) {
    return error instanceof Error ? error.message : String(error);
}
function serializeError(error) {
    if (isCredbakeError(error)) {
        return { kind: error.kind, message: error.message, input: error.input, file: error.file, line: error.line, serial: error.serial };
    }
    return { kind: 'internal', message: messageOf(error) };
}

// The one worker-thread pool of credbake (issuing and writing devices, hashing image outputs,
// verify's checks), with one message protocol:
//   to a worker:   { init } once (a thread may start before the run knows what it will do),
//                  then { call, request }; a call numbered -1 gets no reply;
//   from a worker: { call, result } or { call, error }.
// A worker serves its calls one at a time, in the order they came. Each thread is recognised by the
// role in its workerData (src/workers.ts dispatches the bundle's threads by it). Without threads
// (tests running src/, small runs, concurrency 1) the same handler runs on this thread behind the
// same interface, and its errors are thrown as they are.
/**
 * The running bundle (dist/index.js, dist/cli.js): worker threads re-enter it. Run from src/ it is
 * this .ts file, which a worker thread cannot run, so there are no threads.
 */
fileURLToPath(import.meta.url);
function toWire(error) {
    if (isCredbakeError(error))
        return serializeError(error);
    const code = error?.code;
    return { kind: 'internal', message: messageOf(error), plain: true, ...(typeof code === 'string' ? { code } : {}) };
}
/**
 * When this thread is a worker of `role`: serve calls with the handler `open` makes from the init
 * message, and return true; else false.
 */
function serveWorker(role, open) {
    if (isMainThread || !parentPort || workerData?.role !== role)
        return false;
    const port = parentPort;
    let handler;
    let initError;
    let queue = Promise.resolve();
    port.on('message', (message) => {
        if ('init' in message) {
            try {
                handler = open(message.init);
            }
            catch (error) {
                initError = error; // the reply to every call
            }
            return;
        }
        const { call, request } = message;
        queue = queue.then(async () => {
            let reply;
            try {
                if (initError !== undefined)
                    throw initError;
                if (!handler)
                    throw new Error('internal: a worker was called before its init');
                reply = { call, result: await handler(request) };
            }
            catch (error) {
                reply = { call, error: toWire(error) };
            }
            if (call >= 0)
                port.postMessage(reply);
        });
    });
    return true;
}

// Where a device path is stored on an OSTree system. The partition (meta-updater's `otaroot`,
// Torizon's rootfs) holds a physical sysroot: /ostree/repo, each stateroot's deployments
// /ostree/deploy/OS/deploy/CHECKSUM.N (the read-only /usr and a per-deployment /etc) and its
// writable /ostree/deploy/OS/var, which the booted system bind-mounts at /var. Only /var is shared
// by every deployment and kept across updates, so only device paths below /var can be baked, and
// they are stored below the stateroot's var. Pure rules, used by settings, bundles, sinks and
// verify alike (this module imports nothing).
const OSTREE_DEPLOY = '/ostree/deploy';
/** The stateroot's var folder in the sysroot, e.g. /ostree/deploy/poky/var. */
function staterootVar(os) {
    return `${OSTREE_DEPLOY}/${os}/var`;
}
function isUnder(devicePath, dir) {
    return devicePath === dir || devicePath.startsWith(`${dir}/`);
}
/**
 * Why a device folder (or file) cannot hold credentials on an OSTree system, and what to use
 * instead; undefined when it can (it is /var or below).
 */
function ostreePathRefusal(devicePath, os) {
    if (isUnder(devicePath, '/var'))
        return undefined;
    let why;
    if (isUnder(devicePath, '/usr')) {
        why = `${devicePath} is under /usr, which on an OSTree system is the read-only deployment: the running system cannot change it and every update replaces it with the new commit's /usr, so nothing written there survives`;
    }
    else if (isUnder(devicePath, '/etc')) {
        why = `${devicePath} is under /etc, which on an OSTree system belongs to one deployment (${OSTREE_DEPLOY}/${os}/deploy/CHECKSUM.N/etc) and is three-way merged into the next deployment on every upgrade: credentials written into the image's deployment are not where an upgraded system keeps its own changes`;
    }
    else {
        why = `${devicePath} is outside /var: on an OSTree system everything but /var comes from the read-only deployment, and only /var (bind-mounted from ${staterootVar(os)}) is shared by every deployment and kept across updates`;
    }
    return `${why}. Use a credentials-dir under /var, e.g. the default /var/sota/import (where aktualizr's DeviceCred import looks).`;
}
/**
 * The path inside the sysroot of a device path under /var: /var/sota/import/pkey.pem →
 * /ostree/deploy/OS/var/sota/import/pkey.pem. Throws for any other path (callers refuse those
 * with ostreePathRefusal before anything is issued; this is the last guard).
 */
function sysrootPath(devicePath, os) {
    const refusal = ostreePathRefusal(devicePath, os);
    if (refusal !== undefined)
        throw new Error(refusal);
    return `${staterootVar(os)}${devicePath.slice('/var'.length)}`;
}

const LAYOUT_FILES = {
    // aktualizr's [import] section in provision mode "DeviceCred": the device certificate followed by
    // the chain above it (aktualizr sends client.pem whole, so a server trusting only the root
    // accepts it), the key as PKCS#8, the server's CA and the gateway URL.
    aktualizr: [
        { name: 'client.pem', source: 'certificate-chain', mode: 0o644, optional: false },
        { name: 'pkey.pem', source: 'private-key', mode: 0o600, optional: false },
        { name: 'root.crt', source: 'server-ca', mode: 0o644, optional: true },
        { name: 'gateway.url', source: 'gateway-url', mode: 0o644, optional: true }
    ],
    // Plain names for other clients (mosquitto, curl, custom agents).
    flat: [
        { name: 'cert.pem', source: 'certificate', mode: 0o644, optional: false },
        { name: 'chain.pem', source: 'certificate-chain', mode: 0o644, optional: false },
        { name: 'key.pem', source: 'private-key', mode: 0o600, optional: false },
        { name: 'ca.pem', source: 'server-ca', mode: 0o644, optional: true },
        { name: 'gateway.url', source: 'gateway-url', mode: 0o644, optional: true }
    ]
};

// Bundle stage: an issued credential → the files to install on the device.
function buildBundle(credential, options) {
    const sources = {
        certificate: credential.certificatePem,
        'certificate-chain': [credential.certificatePem, options.signingCaPem, ...options.chainPems]
            .filter((pem) => pem !== undefined)
            .map(withNewline)
            .join(''),
        'private-key': credential.privateKeyPem,
        'server-ca': options.serverCaPem === undefined ? undefined : withNewline(options.serverCaPem),
        'gateway-url': options.gatewayUrl === undefined ? undefined : `${options.gatewayUrl}\n`
    };
    const files = [];
    for (const file of LAYOUT_FILES[options.layout]) {
        const text = sources[file.source];
        // A row with a CSR has no private key: the device keeps its own.
        if (text === undefined)
            continue;
        const devicePath = path.posix.join(options.credentialsDir, file.name);
        files.push({
            path: devicePath,
            ...(options.ostreeOs === undefined ? {} : { partitionPath: sysrootPath(devicePath, options.ostreeOs) }),
            content: Buffer.from(text, 'utf8'),
            mode: file.mode,
            uid: 0,
            gid: 0,
            secret: file.source === 'private-key'
        });
    }
    return files;
}
function withNewline(text) {
    return text.endsWith('\n') ? text : `${text}\n`;
}

/*!
 * MIT License
 * 
 * Copyright (c) 2017-2024 Peculiar Ventures, LLC
 * 
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software and associated documentation files (the "Software"), to deal
 * in the Software without restriction, including without limitation the rights
 * to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 * copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 * 
 * The above copyright notice and this permission notice shall be included in all
 * copies or substantial portions of the Software.
 * 
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 * OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 * SOFTWARE.
 * 
 */

const ARRAY_BUFFER_NAME = "[object ArrayBuffer]";
class BufferSourceConverter {
    static isArrayBuffer(data) {
        return Object.prototype.toString.call(data) === ARRAY_BUFFER_NAME;
    }
    static toArrayBuffer(data) {
        if (this.isArrayBuffer(data)) {
            return data;
        }
        if (data.byteLength === data.buffer.byteLength) {
            return data.buffer;
        }
        if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) {
            return data.buffer;
        }
        return this.toUint8Array(data.buffer)
            .slice(data.byteOffset, data.byteOffset + data.byteLength)
            .buffer;
    }
    static toUint8Array(data) {
        return this.toView(data, Uint8Array);
    }
    static toView(data, type) {
        if (data.constructor === type) {
            return data;
        }
        if (this.isArrayBuffer(data)) {
            return new type(data);
        }
        if (this.isArrayBufferView(data)) {
            return new type(data.buffer, data.byteOffset, data.byteLength);
        }
        throw new TypeError("The provided value is not of type '(ArrayBuffer or ArrayBufferView)'");
    }
    static isBufferSource(data) {
        return this.isArrayBufferView(data)
            || this.isArrayBuffer(data);
    }
    static isArrayBufferView(data) {
        return ArrayBuffer.isView(data)
            || (data && this.isArrayBuffer(data.buffer));
    }
    static isEqual(a, b) {
        const aView = BufferSourceConverter.toUint8Array(a);
        const bView = BufferSourceConverter.toUint8Array(b);
        if (aView.length !== bView.byteLength) {
            return false;
        }
        for (let i = 0; i < aView.length; i++) {
            if (aView[i] !== bView[i]) {
                return false;
            }
        }
        return true;
    }
    static concat(...args) {
        let buffers;
        if (Array.isArray(args[0]) && !(args[1] instanceof Function)) {
            buffers = args[0];
        }
        else if (Array.isArray(args[0]) && args[1] instanceof Function) {
            buffers = args[0];
        }
        else {
            if (args[args.length - 1] instanceof Function) {
                buffers = args.slice(0, args.length - 1);
            }
            else {
                buffers = args;
            }
        }
        let size = 0;
        for (const buffer of buffers) {
            size += buffer.byteLength;
        }
        const res = new Uint8Array(size);
        let offset = 0;
        for (const buffer of buffers) {
            const view = this.toUint8Array(buffer);
            res.set(view, offset);
            offset += view.length;
        }
        if (args[args.length - 1] instanceof Function) {
            return this.toView(res, args[args.length - 1]);
        }
        return res.buffer;
    }
}

const STRING_TYPE = "string";
const HEX_REGEX = /^[0-9a-f\s]+$/i;
const BASE64_REGEX$1 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL_REGEX$1 = /^[a-zA-Z0-9-_]+$/;
class Utf8Converter {
    static fromString(text) {
        const s = unescape(encodeURIComponent(text));
        const uintArray = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
            uintArray[i] = s.charCodeAt(i);
        }
        return uintArray.buffer;
    }
    static toString(buffer) {
        const buf = BufferSourceConverter.toUint8Array(buffer);
        let encodedString = "";
        for (let i = 0; i < buf.length; i++) {
            encodedString += String.fromCharCode(buf[i]);
        }
        const decodedString = decodeURIComponent(escape(encodedString));
        return decodedString;
    }
}
class Utf16Converter {
    static toString(buffer, littleEndian = false) {
        const arrayBuffer = BufferSourceConverter.toArrayBuffer(buffer);
        const dataView = new DataView(arrayBuffer);
        let res = "";
        for (let i = 0; i < arrayBuffer.byteLength; i += 2) {
            const code = dataView.getUint16(i, littleEndian);
            res += String.fromCharCode(code);
        }
        return res;
    }
    static fromString(text, littleEndian = false) {
        const res = new ArrayBuffer(text.length * 2);
        const dataView = new DataView(res);
        for (let i = 0; i < text.length; i++) {
            dataView.setUint16(i * 2, text.charCodeAt(i), littleEndian);
        }
        return res;
    }
}
class Convert {
    static isHex(data) {
        return typeof data === STRING_TYPE
            && HEX_REGEX.test(data);
    }
    static isBase64(data) {
        return typeof data === STRING_TYPE
            && BASE64_REGEX$1.test(data);
    }
    static isBase64Url(data) {
        return typeof data === STRING_TYPE
            && BASE64URL_REGEX$1.test(data);
    }
    static ToString(buffer, enc = "utf8") {
        const buf = BufferSourceConverter.toUint8Array(buffer);
        switch (enc.toLowerCase()) {
            case "utf8":
                return this.ToUtf8String(buf);
            case "binary":
                return this.ToBinary(buf);
            case "hex":
                return this.ToHex(buf);
            case "base64":
                return this.ToBase64(buf);
            case "base64url":
                return this.ToBase64Url(buf);
            case "utf16le":
                return Utf16Converter.toString(buf, true);
            case "utf16":
            case "utf16be":
                return Utf16Converter.toString(buf);
            default:
                throw new Error(`Unknown type of encoding '${enc}'`);
        }
    }
    static FromString(str, enc = "utf8") {
        if (!str) {
            return new ArrayBuffer(0);
        }
        switch (enc.toLowerCase()) {
            case "utf8":
                return this.FromUtf8String(str);
            case "binary":
                return this.FromBinary(str);
            case "hex":
                return this.FromHex(str);
            case "base64":
                return this.FromBase64(str);
            case "base64url":
                return this.FromBase64Url(str);
            case "utf16le":
                return Utf16Converter.fromString(str, true);
            case "utf16":
            case "utf16be":
                return Utf16Converter.fromString(str);
            default:
                throw new Error(`Unknown type of encoding '${enc}'`);
        }
    }
    static ToBase64(buffer) {
        const buf = BufferSourceConverter.toUint8Array(buffer);
        if (typeof btoa !== "undefined") {
            const binary = this.ToString(buf, "binary");
            return btoa(binary);
        }
        else {
            return Buffer.from(buf).toString("base64");
        }
    }
    static FromBase64(base64) {
        const formatted = this.formatString(base64);
        if (!formatted) {
            return new ArrayBuffer(0);
        }
        if (!Convert.isBase64(formatted)) {
            throw new TypeError("Argument 'base64Text' is not Base64 encoded");
        }
        if (typeof atob !== "undefined") {
            return this.FromBinary(atob(formatted));
        }
        else {
            return new Uint8Array(Buffer.from(formatted, "base64")).buffer;
        }
    }
    static FromBase64Url(base64url) {
        const formatted = this.formatString(base64url);
        if (!formatted) {
            return new ArrayBuffer(0);
        }
        if (!Convert.isBase64Url(formatted)) {
            throw new TypeError("Argument 'base64url' is not Base64Url encoded");
        }
        return this.FromBase64(this.Base64Padding(formatted.replace(/\-/g, "+").replace(/\_/g, "/")));
    }
    static ToBase64Url(data) {
        return this.ToBase64(data).replace(/\+/g, "-").replace(/\//g, "_").replace(/\=/g, "");
    }
    static FromUtf8String(text, encoding = Convert.DEFAULT_UTF8_ENCODING) {
        switch (encoding) {
            case "ascii":
                return this.FromBinary(text);
            case "utf8":
                return Utf8Converter.fromString(text);
            case "utf16":
            case "utf16be":
                return Utf16Converter.fromString(text);
            case "utf16le":
            case "usc2":
                return Utf16Converter.fromString(text, true);
            default:
                throw new Error(`Unknown type of encoding '${encoding}'`);
        }
    }
    static ToUtf8String(buffer, encoding = Convert.DEFAULT_UTF8_ENCODING) {
        switch (encoding) {
            case "ascii":
                return this.ToBinary(buffer);
            case "utf8":
                return Utf8Converter.toString(buffer);
            case "utf16":
            case "utf16be":
                return Utf16Converter.toString(buffer);
            case "utf16le":
            case "usc2":
                return Utf16Converter.toString(buffer, true);
            default:
                throw new Error(`Unknown type of encoding '${encoding}'`);
        }
    }
    static FromBinary(text) {
        const stringLength = text.length;
        const resultView = new Uint8Array(stringLength);
        for (let i = 0; i < stringLength; i++) {
            resultView[i] = text.charCodeAt(i);
        }
        return resultView.buffer;
    }
    static ToBinary(buffer) {
        const buf = BufferSourceConverter.toUint8Array(buffer);
        let res = "";
        for (let i = 0; i < buf.length; i++) {
            res += String.fromCharCode(buf[i]);
        }
        return res;
    }
    static ToHex(buffer) {
        const buf = BufferSourceConverter.toUint8Array(buffer);
        let result = "";
        const len = buf.length;
        for (let i = 0; i < len; i++) {
            const byte = buf[i];
            if (byte < 16) {
                result += "0";
            }
            result += byte.toString(16);
        }
        return result;
    }
    static FromHex(hexString) {
        let formatted = this.formatString(hexString);
        if (!formatted) {
            return new ArrayBuffer(0);
        }
        if (!Convert.isHex(formatted)) {
            throw new TypeError("Argument 'hexString' is not HEX encoded");
        }
        if (formatted.length % 2) {
            formatted = `0${formatted}`;
        }
        const res = new Uint8Array(formatted.length / 2);
        for (let i = 0; i < formatted.length; i = i + 2) {
            const c = formatted.slice(i, i + 2);
            res[i / 2] = parseInt(c, 16);
        }
        return res.buffer;
    }
    static ToUtf16String(buffer, littleEndian = false) {
        return Utf16Converter.toString(buffer, littleEndian);
    }
    static FromUtf16String(text, littleEndian = false) {
        return Utf16Converter.fromString(text, littleEndian);
    }
    static Base64Padding(base64) {
        const padCount = 4 - (base64.length % 4);
        if (padCount < 4) {
            for (let i = 0; i < padCount; i++) {
                base64 += "=";
            }
        }
        return base64;
    }
    static formatString(data) {
        return (data === null || data === void 0 ? void 0 : data.replace(/[\n\r\t ]/g, "")) || "";
    }
}
Convert.DEFAULT_UTF8_ENCODING = "utf8";

/*!
 Copyright (c) Peculiar Ventures, LLC
*/

function utilFromBase(inputBuffer, inputBase) {
    let result = 0;
    if (inputBuffer.length === 1) {
        return inputBuffer[0];
    }
    for (let i = inputBuffer.length - 1; i >= 0; i--) {
        result += inputBuffer[inputBuffer.length - 1 - i] * Math.pow(2, inputBase * i);
    }
    return result;
}
function utilToBase(value, base, reserved = -1) {
    const internalReserved = reserved;
    let internalValue = value;
    let result = 0;
    let biggest = Math.pow(2, base);
    for (let i = 1; i < 8; i++) {
        if (value < biggest) {
            let retBuf;
            if (internalReserved < 0) {
                retBuf = new ArrayBuffer(i);
                result = i;
            }
            else {
                if (internalReserved < i) {
                    return new ArrayBuffer(0);
                }
                retBuf = new ArrayBuffer(internalReserved);
                result = internalReserved;
            }
            const retView = new Uint8Array(retBuf);
            for (let j = i - 1; j >= 0; j--) {
                const basis = Math.pow(2, j * base);
                retView[result - j - 1] = Math.floor(internalValue / basis);
                internalValue -= retView[result - j - 1] * basis;
            }
            return retBuf;
        }
        biggest *= Math.pow(2, base);
    }
    return new ArrayBuffer(0);
}
function utilDecodeTC() {
    const buf = new Uint8Array(this.valueHex);
    if (this.valueHex.byteLength >= 2) {
        const condition1 = buf[0] === 0xff && buf[1] & 0x80;
        const condition2 = buf[0] === 0x00 && (buf[1] & 0x80) === 0x00;
        if (condition1 || condition2) {
            this.warnings.push("Needlessly long format");
        }
    }
    const bigIntBuffer = new ArrayBuffer(this.valueHex.byteLength);
    const bigIntView = new Uint8Array(bigIntBuffer);
    for (let i = 0; i < this.valueHex.byteLength; i++) {
        bigIntView[i] = 0;
    }
    bigIntView[0] = buf[0] & 0x80;
    const bigInt = utilFromBase(bigIntView, 8);
    const smallIntBuffer = new ArrayBuffer(this.valueHex.byteLength);
    const smallIntView = new Uint8Array(smallIntBuffer);
    for (let j = 0; j < this.valueHex.byteLength; j++) {
        smallIntView[j] = buf[j];
    }
    smallIntView[0] &= 0x7f;
    const smallInt = utilFromBase(smallIntView, 8);
    return smallInt - bigInt;
}
function utilEncodeTC(value) {
    const modValue = value < 0 ? value * -1 : value;
    let bigInt = 128;
    for (let i = 1; i < 8; i++) {
        if (modValue <= bigInt) {
            if (value < 0) {
                const smallInt = bigInt - modValue;
                const retBuf = utilToBase(smallInt, 8, i);
                const retView = new Uint8Array(retBuf);
                retView[0] |= 0x80;
                return retBuf;
            }
            let retBuf = utilToBase(modValue, 8, i);
            let retView = new Uint8Array(retBuf);
            if (retView[0] & 0x80) {
                const tempBuf = retBuf.slice(0);
                const tempView = new Uint8Array(tempBuf);
                retBuf = new ArrayBuffer(retBuf.byteLength + 1);
                retView = new Uint8Array(retBuf);
                for (let k = 0; k < tempBuf.byteLength; k++) {
                    retView[k + 1] = tempView[k];
                }
                retView[0] = 0x00;
            }
            return retBuf;
        }
        bigInt *= Math.pow(2, 8);
    }
    return new ArrayBuffer(0);
}
function isEqualBuffer(inputBuffer1, inputBuffer2) {
    if (inputBuffer1.byteLength !== inputBuffer2.byteLength) {
        return false;
    }
    const view1 = new Uint8Array(inputBuffer1);
    const view2 = new Uint8Array(inputBuffer2);
    for (let i = 0; i < view1.length; i++) {
        if (view1[i] !== view2[i]) {
            return false;
        }
    }
    return true;
}
function padNumber(inputNumber, fullLength) {
    const str = inputNumber.toString(10);
    if (fullLength < str.length) {
        return "";
    }
    const dif = fullLength - str.length;
    const padding = Array.from({ length: dif });
    for (let i = 0; i < dif; i++) {
        padding[i] = "0";
    }
    const paddingString = padding.join("");
    return paddingString.concat(str);
}

/*!
 * Copyright (c) 2014, GMO GlobalSign
 * Copyright (c) 2015-2022, Peculiar Ventures
 * All rights reserved.
 * 
 * Author 2014-2019, Yury Strozhevsky
 * 
 * Redistribution and use in source and binary forms, with or without modification,
 * are permitted provided that the following conditions are met:
 * 
 * * Redistributions of source code must retain the above copyright notice, this
 *   list of conditions and the following disclaimer.
 * 
 * * Redistributions in binary form must reproduce the above copyright notice, this
 *   list of conditions and the following disclaimer in the documentation and/or
 *   other materials provided with the distribution.
 * 
 * * Neither the name of the copyright holder nor the names of its
 *   contributors may be used to endorse or promote products derived from
 *   this software without specific prior written permission.
 * 
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR
 * ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
 * (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
 * LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON
 * ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
 * (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
 * SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 * 
 */


function assertBigInt() {
    if (typeof BigInt === "undefined") {
        throw new Error("BigInt is not defined. Your environment doesn't implement BigInt.");
    }
}
function concat(buffers) {
    let outputLength = 0;
    let prevLength = 0;
    for (let i = 0; i < buffers.length; i++) {
        const buffer = buffers[i];
        outputLength += buffer.byteLength;
    }
    const retView = new Uint8Array(outputLength);
    for (let i = 0; i < buffers.length; i++) {
        const buffer = buffers[i];
        retView.set(buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer), prevLength);
        prevLength += buffer.byteLength;
    }
    return retView.buffer;
}
function checkBufferParams(baseBlock, inputBuffer, inputOffset, inputLength) {
    if (!(inputBuffer instanceof Uint8Array)) {
        baseBlock.error = "Wrong parameter: inputBuffer must be 'Uint8Array'";
        return false;
    }
    if (!inputBuffer.byteLength) {
        baseBlock.error = "Wrong parameter: inputBuffer has zero length";
        return false;
    }
    if (inputOffset < 0) {
        baseBlock.error = "Wrong parameter: inputOffset less than zero";
        return false;
    }
    if (inputLength < 0) {
        baseBlock.error = "Wrong parameter: inputLength less than zero";
        return false;
    }
    if (inputBuffer.byteLength - inputOffset - inputLength < 0) {
        baseBlock.error = "End of input reached before message was fully decoded (inconsistent offset and length values)";
        return false;
    }
    return true;
}

class ViewWriter {
    constructor() {
        this.items = [];
    }
    write(buf) {
        this.items.push(buf instanceof ArrayBuffer ? buf : concat([buf]));
    }
    final() {
        return concat(this.items);
    }
}
const ORIGINAL_VIEW_WRITER_WRITE = ViewWriter.prototype.write;
const ORIGINAL_VIEW_WRITER_FINAL = ViewWriter.prototype.final;

const NAME = "name";
const VALUE_HEX_VIEW = "valueHexView";
const IS_HEX_ONLY = "isHexOnly";
const ID_BLOCK = "idBlock";
const TAG_CLASS = "tagClass";
const TAG_NUMBER = "tagNumber";
const IS_CONSTRUCTED = "isConstructed";
const FROM_BER = "fromBER";
const TO_BER = "toBER";
const LOCAL = "local";
const EMPTY_STRING = "";
const EMPTY_BUFFER = new ArrayBuffer(0);
const EMPTY_VIEW = new Uint8Array(0);
const END_OF_CONTENT_NAME = "EndOfContent";
const OCTET_STRING_NAME = "OCTET STRING";
const BIT_STRING_NAME = "BIT STRING";

function HexBlock(BaseClass) {
    var _a;
    return _a = class Some extends BaseClass {
            get valueHex() {
                return this.valueHexView.slice().buffer;
            }
            set valueHex(value) {
                this.valueHexView = new Uint8Array(value);
            }
            constructor(...args) {
                var _b;
                super(...args);
                const params = args[0] || {};
                this.isHexOnly = (_b = params.isHexOnly) !== null && _b !== void 0 ? _b : false;
                this.valueHexView = params.valueHex ? BufferSourceConverter.toUint8Array(params.valueHex) : EMPTY_VIEW;
            }
            fromBER(inputBuffer, inputOffset, inputLength, _context) {
                const view = inputBuffer instanceof ArrayBuffer ? new Uint8Array(inputBuffer) : inputBuffer;
                if (!checkBufferParams(this, view, inputOffset, inputLength)) {
                    return -1;
                }
                const endLength = inputOffset + inputLength;
                this.valueHexView = view.subarray(inputOffset, endLength);
                if (!this.valueHexView.length) {
                    this.warnings.push("Zero buffer length");
                    return inputOffset;
                }
                this.blockLength = inputLength;
                return endLength;
            }
            toBER(sizeOnly = false) {
                if (!this.isHexOnly) {
                    this.error = "Flag 'isHexOnly' is not set, abort";
                    return EMPTY_BUFFER;
                }
                if (sizeOnly) {
                    return new ArrayBuffer(this.valueHexView.byteLength);
                }
                if (this.valueHexView.buffer instanceof ArrayBuffer &&
                    this.valueHexView.byteLength === this.valueHexView.buffer.byteLength) {
                    return this.valueHexView.buffer;
                }
                return BufferSourceConverter.toArrayBuffer(this.valueHexView);
            }
            toJSON() {
                return {
                    ...super.toJSON(),
                    isHexOnly: this.isHexOnly,
                    valueHex: Convert.ToHex(this.valueHexView)
                };
            }
        },
        _a.NAME = "hexBlock",
        _a;
}

class LocalBaseBlock {
    static blockName() {
        return this.NAME;
    }
    get valueBeforeDecode() {
        return this.valueBeforeDecodeView.slice().buffer;
    }
    set valueBeforeDecode(value) {
        this.valueBeforeDecodeView = new Uint8Array(value);
    }
    constructor({ blockLength = 0, error = EMPTY_STRING, warnings = [], valueBeforeDecode = EMPTY_VIEW } = {}) {
        this.blockLength = blockLength;
        this.error = error;
        this.warnings = warnings;
        this.valueBeforeDecodeView = BufferSourceConverter.toUint8Array(valueBeforeDecode);
    }
    toJSON() {
        return {
            blockName: this.constructor.NAME,
            blockLength: this.blockLength,
            error: this.error,
            warnings: this.warnings,
            valueBeforeDecode: Convert.ToHex(this.valueBeforeDecodeView)
        };
    }
}
LocalBaseBlock.NAME = "baseBlock";

class ValueBlock extends LocalBaseBlock {
    fromBER(_inputBuffer, _inputOffset, _inputLength, _context) {
        throw TypeError("User need to make a specific function in a class which extends 'ValueBlock'");
    }
    toBER(_sizeOnly, _writer) {
        throw TypeError("User need to make a specific function in a class which extends 'ValueBlock'");
    }
}
ValueBlock.NAME = "valueBlock";

class LocalIdentificationBlock extends HexBlock(LocalBaseBlock) {
    constructor({ idBlock = {} } = {}) {
        var _a, _b, _c, _d;
        super();
        if (idBlock) {
            this.isHexOnly = (_a = idBlock.isHexOnly) !== null && _a !== void 0 ? _a : false;
            this.valueHexView = idBlock.valueHex
                ? BufferSourceConverter.toUint8Array(idBlock.valueHex)
                : EMPTY_VIEW;
            this.tagClass = (_b = idBlock.tagClass) !== null && _b !== void 0 ? _b : -1;
            this.tagNumber = (_c = idBlock.tagNumber) !== null && _c !== void 0 ? _c : -1;
            this.isConstructed = (_d = idBlock.isConstructed) !== null && _d !== void 0 ? _d : false;
        }
        else {
            this.tagClass = -1;
            this.tagNumber = -1;
            this.isConstructed = false;
        }
    }
    toBER(sizeOnly = false) {
        let firstOctet = 0;
        switch (this.tagClass) {
            case 1:
                firstOctet |= 0x00;
                break;
            case 2:
                firstOctet |= 0x40;
                break;
            case 3:
                firstOctet |= 0x80;
                break;
            case 4:
                firstOctet |= 0xc0;
                break;
            default:
                this.error = "Unknown tag class";
                return EMPTY_BUFFER;
        }
        if (this.isConstructed)
            firstOctet |= 0x20;
        if (this.tagNumber < 31 && !this.isHexOnly) {
            const retView = new Uint8Array(1);
            if (!sizeOnly) {
                let number = this.tagNumber;
                number &= 0x1f;
                firstOctet |= number;
                retView[0] = firstOctet;
            }
            return retView.buffer;
        }
        if (!this.isHexOnly) {
            const encodedBuf = utilToBase(this.tagNumber, 7);
            const encodedView = new Uint8Array(encodedBuf);
            const size = encodedBuf.byteLength;
            const retView = new Uint8Array(size + 1);
            retView[0] = firstOctet | 0x1f;
            if (!sizeOnly) {
                for (let i = 0; i < size - 1; i++)
                    retView[i + 1] = encodedView[i] | 0x80;
                retView[size] = encodedView[size - 1];
            }
            return retView.buffer;
        }
        const retView = new Uint8Array(this.valueHexView.byteLength + 1);
        retView[0] = firstOctet | 0x1f;
        if (!sizeOnly) {
            const curView = this.valueHexView;
            for (let i = 0; i < curView.length - 1; i++)
                retView[i + 1] = curView[i] | 0x80;
            retView[this.valueHexView.byteLength] = curView[curView.length - 1];
        }
        return retView.buffer;
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        const inputView = BufferSourceConverter.toUint8Array(inputBuffer);
        if (!checkBufferParams(this, inputView, inputOffset, inputLength)) {
            return -1;
        }
        const fastArgs = Number.isInteger(inputOffset) && Number.isInteger(inputLength);
        const intBuffer = fastArgs ? inputView : inputView.subarray(inputOffset, inputOffset + inputLength);
        const baseIndex = fastArgs ? inputOffset : 0;
        const bufferLength = fastArgs ? inputLength : intBuffer.length;
        if (bufferLength === 0) {
            this.error = "Zero buffer length";
            return -1;
        }
        const tagClassMask = intBuffer[baseIndex] & 0xc0;
        switch (tagClassMask) {
            case 0x00:
                this.tagClass = 1;
                break;
            case 0x40:
                this.tagClass = 2;
                break;
            case 0x80:
                this.tagClass = 3;
                break;
            case 0xc0:
                this.tagClass = 4;
                break;
            default:
                this.error = "Unknown tag class";
                return -1;
        }
        this.isConstructed = (intBuffer[baseIndex] & 0x20) === 0x20;
        this.isHexOnly = false;
        const tagNumberMask = intBuffer[baseIndex] & 0x1f;
        if (tagNumberMask !== 0x1f) {
            this.tagNumber = tagNumberMask;
            this.blockLength = 1;
        }
        else {
            let count = 0;
            while (true) {
                const tagByteIndex = count + 1;
                if (tagByteIndex >= bufferLength) {
                    this.error = "End of input reached before message was fully decoded";
                    return -1;
                }
                count++;
                if ((intBuffer[baseIndex + tagByteIndex] & 0x80) === 0x00)
                    break;
            }
            this.blockLength = count + 1;
            const intTagNumberBuffer = (this.valueHexView = new Uint8Array(count));
            for (let i = 0; i < count; i++)
                intTagNumberBuffer[i] = intBuffer[baseIndex + i + 1] & 0x7f;
            if (this.blockLength <= 9)
                this.tagNumber = utilFromBase(intTagNumberBuffer, 7);
            else {
                this.isHexOnly = true;
                this.warnings.push("Tag too long, represented as hex-coded");
            }
        }
        if (this.tagClass === 1 && this.isConstructed) {
            switch (this.tagNumber) {
                case 1:
                case 2:
                case 5:
                case 6:
                case 9:
                case 13:
                case 14:
                case 23:
                case 24:
                case 31:
                case 32:
                case 33:
                case 34:
                    this.error = "Constructed encoding used for primitive type";
                    return -1;
            }
        }
        return inputOffset + this.blockLength;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            tagClass: this.tagClass,
            tagNumber: this.tagNumber,
            isConstructed: this.isConstructed
        };
    }
}
LocalIdentificationBlock.NAME = "identificationBlock";
const ORIGINAL_LOCAL_IDENTIFICATION_TO_BER = LocalIdentificationBlock.prototype.toBER;
const ORIGINAL_LOCAL_IDENTIFICATION_FROM_BER = LocalIdentificationBlock.prototype.fromBER;

class LocalLengthBlock extends LocalBaseBlock {
    constructor({ lenBlock = {} } = {}) {
        var _a, _b, _c;
        super();
        this.isIndefiniteForm = (_a = lenBlock.isIndefiniteForm) !== null && _a !== void 0 ? _a : false;
        this.longFormUsed = (_b = lenBlock.longFormUsed) !== null && _b !== void 0 ? _b : false;
        this.length = (_c = lenBlock.length) !== null && _c !== void 0 ? _c : 0;
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        const view = BufferSourceConverter.toUint8Array(inputBuffer);
        if (!checkBufferParams(this, view, inputOffset, inputLength)) {
            return -1;
        }
        const fastArgs = Number.isInteger(inputOffset) && Number.isInteger(inputLength);
        const intBuffer = fastArgs ? view : view.subarray(inputOffset, inputOffset + inputLength);
        const baseIndex = fastArgs ? inputOffset : 0;
        const bufferLength = fastArgs ? inputLength : intBuffer.length;
        if (bufferLength === 0) {
            this.error = "Zero buffer length";
            return -1;
        }
        if (intBuffer[baseIndex] === 0xff) {
            this.error = "Length block 0xFF is reserved by standard";
            return -1;
        }
        this.isIndefiniteForm = intBuffer[baseIndex] === 0x80;
        if (this.isIndefiniteForm) {
            this.blockLength = 1;
            return inputOffset + this.blockLength;
        }
        this.longFormUsed = !!(intBuffer[baseIndex] & 0x80);
        if (this.longFormUsed === false) {
            this.length = intBuffer[baseIndex];
            this.blockLength = 1;
            return inputOffset + this.blockLength;
        }
        const count = intBuffer[baseIndex] & 0x7f;
        if (count > 8) {
            this.error = "Too big integer";
            return -1;
        }
        if (count + 1 > bufferLength) {
            this.error = "End of input reached before message was fully decoded";
            return -1;
        }
        const lenOffset = inputOffset + 1;
        const lengthBufferView = view.subarray(lenOffset, lenOffset + count);
        if (lengthBufferView[count - 1] === 0x00)
            this.warnings.push("Needlessly long encoded length");
        this.length = utilFromBase(lengthBufferView, 8);
        if (this.longFormUsed && this.length <= 127)
            this.warnings.push("Unnecessary usage of long length form");
        this.blockLength = count + 1;
        return inputOffset + this.blockLength;
    }
    toBER(sizeOnly = false) {
        let retBuf;
        let retView;
        if (this.length > 127)
            this.longFormUsed = true;
        if (this.isIndefiniteForm) {
            retBuf = new ArrayBuffer(1);
            if (sizeOnly === false) {
                retView = new Uint8Array(retBuf);
                retView[0] = 0x80;
            }
            return retBuf;
        }
        if (this.longFormUsed) {
            const encodedBuf = utilToBase(this.length, 8);
            if (encodedBuf.byteLength > 127) {
                this.error = "Too big length";
                return EMPTY_BUFFER;
            }
            retBuf = new ArrayBuffer(encodedBuf.byteLength + 1);
            if (sizeOnly)
                return retBuf;
            const encodedView = new Uint8Array(encodedBuf);
            retView = new Uint8Array(retBuf);
            retView[0] = encodedBuf.byteLength | 0x80;
            for (let i = 0; i < encodedBuf.byteLength; i++)
                retView[i + 1] = encodedView[i];
            return retBuf;
        }
        retBuf = new ArrayBuffer(1);
        if (sizeOnly === false) {
            retView = new Uint8Array(retBuf);
            retView[0] = this.length;
        }
        return retBuf;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            isIndefiniteForm: this.isIndefiniteForm,
            longFormUsed: this.longFormUsed,
            length: this.length
        };
    }
}
LocalLengthBlock.NAME = "lengthBlock";
const ORIGINAL_LOCAL_LENGTH_TO_BER = LocalLengthBlock.prototype.toBER;
const ORIGINAL_LOCAL_LENGTH_FROM_BER = LocalLengthBlock.prototype.fromBER;

const typeStore = {};

var _a$y, _b, _c;
const originalUint8ArraySliceInfo = findMethod(Uint8Array.prototype, "slice");
const originalUint8ArrayConstructor = (_a$y = Object.getOwnPropertyDescriptor(Uint8Array.prototype, "constructor")) === null || _a$y === void 0 ? void 0 : _a$y.value;
const originalArrayIterator = (_b = Object.getOwnPropertyDescriptor(Array.prototype, Symbol.iterator)) === null || _b === void 0 ? void 0 : _b.value;
const intrinsicTypedArrayByteLength = (_c = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "byteLength")) === null || _c === void 0 ? void 0 : _c.get;
const BUILTIN_DISPATCH_PAYLOAD_THRESHOLD = 16384;
const BUILTIN_DISPATCH_MAX_DEPTH = 64;
let builtinRegistry;
function registerBuiltinEncoder(builtinConstructors, internals) {
    const current = builtinRegistry;
    const nextInternals = internals || current;
    if (!nextInternals) {
        builtinRegistry = undefined;
        return;
    }
    builtinRegistry = { ...nextInternals, ...builtinConstructors };
}
function dataProperty(object, name) {
    const descriptor = Object.getOwnPropertyDescriptor(object, name);
    if (!descriptor || !("value" in descriptor))
        return undefined;
    return descriptor.value;
}
function intrinsicPayloadByteLength(value) {
    if (!intrinsicTypedArrayByteLength || !value || typeof value !== "object")
        return undefined;
    try {
        const byteLength = intrinsicTypedArrayByteLength.call(value);
        return typeof byteLength === "number" ? byteLength : undefined;
    }
    catch {
        return undefined;
    }
}
function largePayloadOrChain(block, depth) {
    if (depth > BUILTIN_DISPATCH_MAX_DEPTH || !block || typeof block !== "object")
        return false;
    const valueBlockDescriptor = Object.getOwnPropertyDescriptor(block, "valueBlock");
    if (!valueBlockDescriptor || !("value" in valueBlockDescriptor))
        return false;
    const valueBlock = valueBlockDescriptor.value;
    if (!valueBlock || typeof valueBlock !== "object")
        return false;
    const payloadDescriptor = Object.getOwnPropertyDescriptor(valueBlock, "valueHexView");
    if (payloadDescriptor) {
        if (!("value" in payloadDescriptor))
            return false;
        const byteLength = intrinsicPayloadByteLength(payloadDescriptor.value);
        return byteLength !== undefined && byteLength >= BUILTIN_DISPATCH_PAYLOAD_THRESHOLD;
    }
    const valuesDescriptor = Object.getOwnPropertyDescriptor(valueBlock, "value");
    if (!valuesDescriptor || !("value" in valuesDescriptor) || !Array.isArray(valuesDescriptor.value))
        return false;
    const values = valuesDescriptor.value;
    const lengthDescriptor = Object.getOwnPropertyDescriptor(values, "length");
    if (!lengthDescriptor || !("value" in lengthDescriptor) || lengthDescriptor.value !== 1)
        return false;
    const indexDescriptor = Object.getOwnPropertyDescriptor(values, "0");
    if (!indexDescriptor || !("value" in indexDescriptor))
        return false;
    return largePayloadOrChain(indexDescriptor.value, depth + 1);
}
function shouldUseBuiltinEncoder(block) {
    try {
        return largePayloadOrChain(block, 0);
    }
    catch {
        return false;
    }
}
function sameDataMethod(current, original) {
    return (!!current &&
        "value" in current &&
        current.value === original &&
        current.writable === true &&
        current.enumerable === false &&
        current.configurable === true);
}
function writerMethodsStable(registry) {
    return (sameDataMethod(Object.getOwnPropertyDescriptor(registry.ViewWriter.prototype, "write"), registry.originalWriterWrite) &&
        sameDataMethod(Object.getOwnPropertyDescriptor(registry.ViewWriter.prototype, "final"), registry.originalWriterFinal));
}
function findMethod(prototype, name) {
    let current = prototype;
    while (current) {
        const descriptor = Object.getOwnPropertyDescriptor(current, name);
        if (descriptor) {
            if ("value" in descriptor && typeof descriptor.value === "function") {
                return { declaringPrototype: current, method: descriptor.value };
            }
            return undefined;
        }
        current = Object.getPrototypeOf(current);
    }
    return undefined;
}
function stableInheritedMethod(prototype, name, original) {
    if (!original)
        return false;
    let current = prototype;
    while (current) {
        const descriptor = Object.getOwnPropertyDescriptor(current, name);
        if (current === original.declaringPrototype) {
            return !!descriptor && "value" in descriptor && descriptor.value === original.method;
        }
        if (descriptor)
            return false;
        current = Object.getPrototypeOf(current);
    }
    return false;
}
function prototypeMethod(object, prototype, name, expected) {
    if (Object.prototype.hasOwnProperty.call(object, name))
        return false;
    if (Object.getPrototypeOf(object) !== prototype)
        return false;
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    return !!descriptor && "value" in descriptor && descriptor.value === expected;
}
function inheritedMethod(object, name, expected, primitiveConstructor) {
    if (Object.prototype.hasOwnProperty.call(object, name))
        return false;
    const prototype = Object.getPrototypeOf(object);
    const originalPrimitiveValuePrototype = Object.getPrototypeOf(primitiveConstructor.prototype);
    if (prototype !== primitiveConstructor.prototype ||
        Object.getPrototypeOf(prototype) !== originalPrimitiveValuePrototype) {
        return false;
    }
    const descriptor = prototype && Object.getOwnPropertyDescriptor(prototype, name);
    if (descriptor)
        return false;
    const parentDescriptor = Object.getOwnPropertyDescriptor(originalPrimitiveValuePrototype, name);
    return !!parentDescriptor && "value" in parentDescriptor && parentDescriptor.value === expected;
}
function plainPayload(value, allowEmpty = false) {
    if (!(value instanceof Uint8Array) || Object.getPrototypeOf(value) !== Uint8Array.prototype)
        return undefined;
    for (const name of ["buffer", "byteOffset", "byteLength", "length", "slice", "constructor"]) {
        if (Object.prototype.hasOwnProperty.call(value, name))
            return undefined;
    }
    const constructorDescriptor = Object.getOwnPropertyDescriptor(Uint8Array.prototype, "constructor");
    if (!constructorDescriptor ||
        !("value" in constructorDescriptor) ||
        constructorDescriptor.value !== originalUint8ArrayConstructor)
        return undefined;
    if (!stableInheritedMethod(Uint8Array.prototype, "slice", originalUint8ArraySliceInfo))
        return undefined;
    try {
        const buffer = value.buffer;
        if (!(buffer instanceof ArrayBuffer) || Object.getPrototypeOf(buffer) !== ArrayBuffer.prototype)
            return undefined;
        if (Object.prototype.hasOwnProperty.call(buffer, "byteLength"))
            return undefined;
        if (value.byteLength !== value.length || (!allowEmpty && value.byteLength === 0))
            return undefined;
        if (value.byteOffset < 0 || value.byteOffset + value.byteLength > buffer.byteLength)
            return undefined;
    }
    catch {
        return undefined;
    }
    return value;
}
function validIdBlock(block, constructed, registry) {
    if (Object.getPrototypeOf(block) !== registry.LocalIdentificationBlock.prototype)
        return false;
    if (!prototypeMethod(block, registry.LocalIdentificationBlock.prototype, "toBER", registry.originalIdentificationToBER))
        return false;
    const tagClass = dataProperty(block, "tagClass");
    const tagNumber = dataProperty(block, "tagNumber");
    const isConstructed = dataProperty(block, "isConstructed");
    const isHexOnly = dataProperty(block, "isHexOnly");
    const valueHexView = dataProperty(block, "valueHexView");
    if (typeof tagClass !== "number" || !Number.isInteger(tagClass) || tagClass < 1 || tagClass > 4)
        return false;
    if (typeof tagNumber !== "number" || !Number.isInteger(tagNumber) || tagNumber < 0)
        return false;
    if (isConstructed !== constructed || typeof isHexOnly !== "boolean")
        return false;
    if (isHexOnly)
        return !!plainPayload(valueHexView);
    return Number.isSafeInteger(tagNumber);
}
function validLengthBlock(block, allowIndefinite, registry) {
    if (Object.getPrototypeOf(block) !== registry.LocalLengthBlock.prototype)
        return false;
    if (!prototypeMethod(block, registry.LocalLengthBlock.prototype, "toBER", registry.originalLengthToBER))
        return false;
    const indefinite = dataProperty(block, "isIndefiniteForm");
    const longForm = dataProperty(block, "longFormUsed");
    const lengthDescriptor = Object.getOwnPropertyDescriptor(block, "length");
    const length = lengthDescriptor && "value" in lengthDescriptor ? lengthDescriptor.value : undefined;
    const longFormDescriptor = Object.getOwnPropertyDescriptor(block, "longFormUsed");
    return (typeof indefinite === "boolean" &&
        (indefinite === false || allowIndefinite) &&
        typeof longForm === "boolean" &&
        !!longFormDescriptor &&
        "value" in longFormDescriptor &&
        longFormDescriptor.writable === true &&
        !!lengthDescriptor &&
        "value" in lengthDescriptor &&
        lengthDescriptor.writable === true &&
        typeof length === "number" &&
        Number.isSafeInteger(length) &&
        length >= 0);
}
function validBaseBlock(block, isConstructed, registry) {
    const idBlock = dataProperty(block, "idBlock");
    const lenBlock = dataProperty(block, "lenBlock");
    return (!!idBlock &&
        !!lenBlock &&
        validIdBlock(idBlock, isConstructed, registry) &&
        validLengthBlock(lenBlock, isConstructed, registry));
}
function constructedChild(block, registry) {
    const valueBlock = dataProperty(block, "valueBlock");
    if (!valueBlock || Object.getPrototypeOf(valueBlock) !== registry.LocalConstructedValueBlock.prototype)
        return undefined;
    if (!prototypeMethod(valueBlock, registry.LocalConstructedValueBlock.prototype, "toBER", registry.originalConstructedToBER))
        return undefined;
    const values = dataProperty(valueBlock, "value");
    if (!Array.isArray(values) || Object.getPrototypeOf(values) !== Array.prototype)
        return undefined;
    const lengthDescriptor = Object.getOwnPropertyDescriptor(values, "length");
    if (!lengthDescriptor || !("value" in lengthDescriptor) || lengthDescriptor.value !== 1)
        return undefined;
    if (Object.prototype.hasOwnProperty.call(values, Symbol.iterator))
        return undefined;
    const iteratorDescriptor = Object.getOwnPropertyDescriptor(Array.prototype, Symbol.iterator);
    if (!iteratorDescriptor || !("value" in iteratorDescriptor) || iteratorDescriptor.value !== originalArrayIterator)
        return undefined;
    const indexDescriptor = Object.getOwnPropertyDescriptor(values, "0");
    if (!indexDescriptor || !("value" in indexDescriptor))
        return undefined;
    if (Object.getOwnPropertyNames(values).length !== 2)
        return undefined;
    return indexDescriptor.value;
}
function bitPayload(block, registry) {
    const valueBlock = dataProperty(block, "valueBlock");
    if (!valueBlock || Object.getPrototypeOf(valueBlock) !== registry.LocalBitStringValueBlock.prototype)
        return undefined;
    if (!prototypeMethod(valueBlock, registry.LocalBitStringValueBlock.prototype, "toBER", registry.originalBitStringToBER))
        return undefined;
    if (dataProperty(valueBlock, "isConstructed") !== false)
        return undefined;
    const unusedBits = dataProperty(valueBlock, "unusedBits");
    if (typeof unusedBits !== "number" || !Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7)
        return undefined;
    const payload = plainPayload(dataProperty(valueBlock, "valueHexView"), true);
    if (!payload)
        return undefined;
    return { payload, prefix: Uint8Array.of(payload.byteLength ? unusedBits : 0) };
}
function primitivePayload(block, kind, registry) {
    const valueBlock = dataProperty(block, "valueBlock");
    if (!valueBlock)
        return undefined;
    if (kind === "integer") {
        if (Object.getPrototypeOf(valueBlock) !== registry.LocalIntegerValueBlock.prototype)
            return undefined;
        if (!prototypeMethod(valueBlock, registry.LocalIntegerValueBlock.prototype, "toBER", registry.originalIntegerToBER))
            return undefined;
    }
    else if (kind === "octet") {
        if (Object.getPrototypeOf(valueBlock) !== registry.LocalOctetStringValueBlock.prototype)
            return undefined;
        if (!prototypeMethod(valueBlock, registry.LocalOctetStringValueBlock.prototype, "toBER", registry.originalOctetStringToBER))
            return undefined;
        if (dataProperty(valueBlock, "isConstructed") !== false)
            return undefined;
    }
    else {
        if (Object.getPrototypeOf(valueBlock) !== registry.LocalPrimitiveValueBlock.prototype)
            return undefined;
        if (!inheritedMethod(valueBlock, "toBER", registry.originalPrimitiveToBER, registry.LocalPrimitiveValueBlock))
            return undefined;
    }
    if (kind === "primitive" && dataProperty(valueBlock, "isHexOnly") !== true)
        return undefined;
    if (typeof dataProperty(valueBlock, "isHexOnly") !== "boolean")
        return undefined;
    return plainPayload(dataProperty(valueBlock, "valueHexView"));
}
function validOuterMethod(block, registry) {
    if (Object.prototype.hasOwnProperty.call(block, "toBER"))
        return false;
    let prototype = block;
    while (prototype) {
        const descriptor = Object.getOwnPropertyDescriptor(prototype, "toBER");
        if (descriptor)
            return "value" in descriptor && descriptor.value === registry.originalBaseBlockToBER;
        prototype = Object.getPrototypeOf(prototype);
    }
    return false;
}
function isPrimitive(block, type, registry) {
    const constructor = registry[type];
    return !!constructor && Object.getPrototypeOf(block) === constructor.prototype;
}
function isConstructed(block, registry) {
    return (Object.getPrototypeOf(block) === registry.Sequence.prototype ||
        Object.getPrototypeOf(block) === registry.Set.prototype ||
        Object.getPrototypeOf(block) === registry.Constructed.prototype);
}
function inspectNode(block, depth, registry) {
    if (depth > BUILTIN_DISPATCH_MAX_DEPTH || !block || typeof block !== "object")
        return undefined;
    try {
        if (!validOuterMethod(block, registry))
            return undefined;
        const primitiveKind = isPrimitive(block, "BitString", registry)
            ? "bit"
            : isPrimitive(block, "Integer", registry)
                ? "integer"
                : isPrimitive(block, "OctetString", registry)
                    ? "octet"
                    : isPrimitive(block, "Primitive", registry)
                        ? "primitive"
                        : undefined;
        const constructed = primitiveKind === undefined && isConstructed(block, registry);
        if (!primitiveKind && !constructed)
            return undefined;
        if (!validBaseBlock(block, constructed, registry))
            return undefined;
        const idBlock = dataProperty(block, "idBlock");
        const lenBlock = dataProperty(block, "lenBlock");
        if (!idBlock || !lenBlock)
            return undefined;
        if (primitiveKind) {
            const bit = primitiveKind === "bit" ? bitPayload(block, registry) : undefined;
            const payload = primitiveKind === "bit" ? bit === null || bit === void 0 ? void 0 : bit.payload : primitivePayload(block, primitiveKind, registry);
            return payload
                ? { block, kind: primitiveKind, idBlock, lenBlock, indefinite: false, payload, prefix: bit === null || bit === void 0 ? void 0 : bit.prefix }
                : undefined;
        }
        const child = constructedChild(block, registry);
        const validatedChild = child && inspectNode(child, depth + 1, registry);
        const indefinite = dataProperty(lenBlock, "isIndefiniteForm");
        return validatedChild
            ? { block, kind: "constructed", idBlock, lenBlock, indefinite: indefinite === true, child: validatedChild }
            : undefined;
    }
    catch {
        return undefined;
    }
}
function buildNode(node, sizeOnly, registry) {
    var _a, _b;
    const id = Reflect.apply(registry.originalIdentificationToBER, node.idBlock, [sizeOnly]);
    if (!(id instanceof ArrayBuffer) || id.byteLength === 0)
        throw TypeError("Built-in identifier encoding failed");
    let payload;
    if (node.kind === "constructed") {
        payload = buildNode(node.child, sizeOnly, registry);
    }
    else {
        payload = node.payload;
    }
    const length = (payload instanceof Uint8Array ? payload.byteLength : payload.total) + ((_b = (_a = node.prefix) === null || _a === void 0 ? void 0 : _a.byteLength) !== null && _b !== void 0 ? _b : 0);
    let len;
    if (node.indefinite) {
        len = Uint8Array.of(0x80).buffer;
    }
    else {
        node.lenBlock.length = length;
        len = Reflect.apply(registry.originalLengthToBER, node.lenBlock, [sizeOnly]);
        if (!(len instanceof ArrayBuffer) || len.byteLength === 0)
            throw TypeError("Built-in length encoding failed");
    }
    const total = id.byteLength + len.byteLength + length + (node.indefinite ? 2 : 0);
    if (!Number.isSafeInteger(total))
        throw RangeError("Built-in encoding is too large");
    return { id, len, payload, length, total, indefinite: node.indefinite, prefix: node.prefix };
}
function flatten(node, output, offset, sizeOnly) {
    output.set(new Uint8Array(node.id), offset);
    offset += node.id.byteLength;
    output.set(new Uint8Array(node.len), offset);
    offset += node.len.byteLength;
    if (node.prefix) {
        if (!sizeOnly)
            output.set(node.prefix, offset);
        offset += node.prefix.byteLength;
    }
    if (node.payload instanceof Uint8Array) {
        if (!sizeOnly)
            output.set(node.payload, offset);
        offset += node.payload.byteLength;
    }
    else {
        offset = flatten(node.payload, output, offset, sizeOnly);
    }
    if (node.indefinite)
        offset += 2;
    return offset;
}
function tryEncodeBuiltin(block, sizeOnly = false) {
    const registry = builtinRegistry;
    if (!registry || !writerMethodsStable(registry))
        return undefined;
    const validated = inspectNode(block, 0, registry);
    if (!validated)
        return undefined;
    const node = buildNode(validated, sizeOnly, registry);
    const output = new Uint8Array(node.total);
    flatten(node, output, 0, sizeOnly);
    return output.buffer;
}

class BaseBlock extends LocalBaseBlock {
    constructor({ name = EMPTY_STRING, optional = false, primitiveSchema, ...parameters } = {}, valueBlockType) {
        super(parameters);
        this.name = name;
        this.optional = optional;
        if (primitiveSchema) {
            this.primitiveSchema = primitiveSchema;
        }
        this.idBlock = new LocalIdentificationBlock(parameters);
        this.lenBlock = new LocalLengthBlock(parameters);
        this.valueBlock = valueBlockType ? new valueBlockType(parameters) : new ValueBlock(parameters);
    }
    fromBER(inputBuffer, inputOffset, inputLength, context) {
        const resultOffset = this.valueBlock.fromBER(inputBuffer, inputOffset, this.lenBlock.isIndefiniteForm ? inputLength : this.lenBlock.length, context);
        if (resultOffset === -1) {
            this.error = this.valueBlock.error;
            return resultOffset;
        }
        if (!this.idBlock.error.length)
            this.blockLength += this.idBlock.blockLength;
        if (!this.lenBlock.error.length)
            this.blockLength += this.lenBlock.blockLength;
        if (!this.valueBlock.error.length)
            this.blockLength += this.valueBlock.blockLength;
        return resultOffset;
    }
    toBER(sizeOnly, writer) {
        const _writer = writer || new ViewWriter();
        if (!writer) {
            prepareIndefiniteForm(this);
            if (sizeOnly === true || sizeOnly === false || sizeOnly === undefined) {
                if (shouldUseBuiltinEncoder(this)) {
                    const encoded = tryEncodeBuiltin(this, sizeOnly === true);
                    if (encoded)
                        return encoded;
                }
            }
        }
        const idBlockBuf = this.idBlock.toBER(sizeOnly);
        _writer.write(idBlockBuf);
        if (this.lenBlock.isIndefiniteForm) {
            _writer.write(new Uint8Array([0x80]).buffer);
            this.valueBlock.toBER(sizeOnly, _writer);
            _writer.write(new ArrayBuffer(2));
        }
        else {
            const valueBlockBuf = this.valueBlock.toBER(sizeOnly);
            this.lenBlock.length = valueBlockBuf.byteLength;
            const lenBlockBuf = this.lenBlock.toBER(sizeOnly);
            _writer.write(lenBlockBuf);
            _writer.write(valueBlockBuf);
        }
        if (!writer) {
            return _writer.final();
        }
        return EMPTY_BUFFER;
    }
    toJSON() {
        const object = {
            ...super.toJSON(),
            idBlock: this.idBlock.toJSON(),
            lenBlock: this.lenBlock.toJSON(),
            valueBlock: this.valueBlock.toJSON(),
            name: this.name,
            optional: this.optional
        };
        if (this.primitiveSchema)
            object.primitiveSchema = this.primitiveSchema.toJSON();
        return object;
    }
    toString(encoding = "ascii") {
        if (encoding === "ascii") {
            return this.onAsciiEncoding();
        }
        return Convert.ToHex(this.toBER());
    }
    onAsciiEncoding() {
        const name = this.constructor.NAME;
        const value = Convert.ToHex(this.valueBlock.valueBeforeDecodeView);
        return `${name} : ${value}`;
    }
    isEqual(other) {
        if (this === other) {
            return true;
        }
        if (!(other instanceof this.constructor)) {
            return false;
        }
        const thisRaw = this.toBER();
        const otherRaw = other.toBER();
        return isEqualBuffer(thisRaw, otherRaw);
    }
}
BaseBlock.NAME = "BaseBlock";
const ORIGINAL_BASE_BLOCK_TO_BER = BaseBlock.prototype.toBER;
function prepareIndefiniteForm(baseBlock) {
    var _a;
    if (baseBlock instanceof typeStore.Constructed) {
        for (const value of baseBlock.valueBlock.value) {
            if (prepareIndefiniteForm(value)) {
                baseBlock.lenBlock.isIndefiniteForm = true;
            }
        }
    }
    return !!((_a = baseBlock.lenBlock) === null || _a === void 0 ? void 0 : _a.isIndefiniteForm);
}

class BaseStringBlock extends BaseBlock {
    getValue() {
        return this.valueBlock.value;
    }
    setValue(value) {
        this.valueBlock.value = value;
    }
    constructor({ value = EMPTY_STRING, ...parameters } = {}, stringValueBlockType) {
        super(parameters, stringValueBlockType);
        if (value) {
            this.fromString(value);
        }
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        const resultOffset = this.valueBlock.fromBER(inputBuffer, inputOffset, this.lenBlock.isIndefiniteForm ? inputLength : this.lenBlock.length);
        if (resultOffset === -1) {
            this.error = this.valueBlock.error;
            return resultOffset;
        }
        this.fromBuffer(this.valueBlock.valueHexView);
        if (!this.idBlock.error.length)
            this.blockLength += this.idBlock.blockLength;
        if (!this.lenBlock.error.length)
            this.blockLength += this.lenBlock.blockLength;
        if (!this.valueBlock.error.length)
            this.blockLength += this.valueBlock.blockLength;
        return resultOffset;
    }
    onAsciiEncoding() {
        return `${this.constructor.NAME} : '${this.valueBlock.value}'`;
    }
}
BaseStringBlock.NAME = "BaseStringBlock";

var _a$x;
class LocalPrimitiveValueBlock extends HexBlock(ValueBlock) {
    constructor({ isHexOnly = true, ...parameters } = {}) {
        super(parameters);
        this.isHexOnly = isHexOnly;
    }
}
LocalPrimitiveValueBlock.NAME = "PrimitiveValueBlock";
const ORIGINAL_LOCAL_PRIMITIVE_TO_BER = (_a$x = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(LocalPrimitiveValueBlock.prototype), "toBER")) === null || _a$x === void 0 ? void 0 : _a$x.value;

var _a$w;
class Primitive extends BaseBlock {
    constructor(parameters = {}) {
        super(parameters, LocalPrimitiveValueBlock);
        this.idBlock.isConstructed = false;
    }
}
_a$w = Primitive;
(() => {
    typeStore.Primitive = _a$w;
})();
Primitive.NAME = "PRIMITIVE";

let fastParserRegistry;
function registerFastParser(constructors) {
    fastParserRegistry = {
        Integer: constructors.Integer,
        Null: constructors.Null,
        Sequence: constructors.Sequence
    };
}
function fastParserContext(context) {
    const nodes = Object.getOwnPropertyDescriptor(context, "nodesCount");
    const maxNodes = Object.getOwnPropertyDescriptor(context, "maxNodes");
    const maxContentLength = Object.getOwnPropertyDescriptor(context, "maxContentLength");
    if (!nodes || !("value" in nodes) || nodes.writable !== true)
        return false;
    if (!maxNodes || !("value" in maxNodes) || !maxContentLength || !("value" in maxContentLength))
        return false;
    return (typeof nodes.value === "number" &&
        Number.isSafeInteger(nodes.value) &&
        nodes.value >= 0 &&
        typeof maxNodes.value === "number" &&
        Number.isSafeInteger(maxNodes.value) &&
        maxNodes.value >= 0 &&
        typeof maxContentLength.value === "number" &&
        Number.isSafeInteger(maxContentLength.value) &&
        maxContentLength.value >= 0 &&
        nodes.value < maxNodes.value);
}
function fastParserType(store, name, value) {
    const descriptor = Object.getOwnPropertyDescriptor(store, name);
    return !!descriptor && "value" in descriptor && descriptor.value === value;
}
function tryFastFromBER(inputBuffer, inputOffset, inputLength, context) {
    const registry = fastParserRegistry;
    if (!registry)
        return undefined;
    let Constructor;
    let length = 0;
    try {
        if (Object.getPrototypeOf(inputBuffer) !== Uint8Array.prototype)
            return undefined;
        if (!Number.isSafeInteger(inputOffset) ||
            inputOffset < 0 ||
            !Number.isSafeInteger(inputLength) ||
            inputLength < 2) {
            return undefined;
        }
        if (inputOffset > inputBuffer.byteLength || inputLength > inputBuffer.byteLength - inputOffset)
            return undefined;
        const tag = inputBuffer[inputOffset];
        if (tag !== 0x02 && tag !== 0x05 && tag !== 0x30)
            return undefined;
        length = inputBuffer[inputOffset + 1];
        if (length >= 0x80 || length > inputLength - 2)
            return undefined;
        if (tag === 0x05 && length !== 0)
            return undefined;
        if (!fastParserContext(context))
            return undefined;
        if (length > Object.getOwnPropertyDescriptor(context, "maxContentLength").value) {
            return undefined;
        }
        const constructorName = tag === 0x02 ? "Integer" : tag === 0x05 ? "Null" : "Sequence";
        Constructor = registry[constructorName];
        if (!fastParserType(typeStore, constructorName, Constructor))
            return undefined;
        const identificationFromBER = Object.getOwnPropertyDescriptor(LocalIdentificationBlock.prototype, "fromBER");
        const lengthFromBER = Object.getOwnPropertyDescriptor(LocalLengthBlock.prototype, "fromBER");
        if (!identificationFromBER ||
            !("value" in identificationFromBER) ||
            identificationFromBER.value !== ORIGINAL_LOCAL_IDENTIFICATION_FROM_BER ||
            !lengthFromBER ||
            !("value" in lengthFromBER) ||
            lengthFromBER.value !== ORIGINAL_LOCAL_LENGTH_FROM_BER)
            return undefined;
    }
    catch {
        return undefined;
    }
    if (!Constructor)
        return undefined;
    const result = new Constructor();
    result.idBlock.tagClass = 1;
    result.idBlock.tagNumber = inputBuffer[inputOffset] & 0x1f;
    result.idBlock.isConstructed = inputBuffer[inputOffset] === 0x30;
    result.idBlock.isHexOnly = false;
    result.idBlock.blockLength = 1;
    result.lenBlock.isIndefiniteForm = false;
    result.lenBlock.longFormUsed = false;
    result.lenBlock.length = length;
    result.lenBlock.blockLength = 1;
    context.nodesCount += 1;
    const resultOffset = result.fromBER(inputBuffer, inputOffset + 2, length, context);
    result.valueBeforeDecodeView = inputBuffer.subarray(inputOffset, inputOffset + result.blockLength);
    return { offset: resultOffset, result };
}
const DEFAULT_MAX_DEPTH = 100;
const DEFAULT_MAX_NODES = 10000;
const DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024 * 1024;
const MAX_DEPTH_EXCEEDED_ERROR = "Maximum ASN.1 nesting depth exceeded";
const MAX_NODES_EXCEEDED_ERROR = "Maximum ASN.1 node count exceeded";
const MAX_CONTENT_LENGTH_EXCEEDED_ERROR = "Maximum ASN.1 content length exceeded";
function createFromBerContext(options = {}) {
    var _a, _b, _c, _d;
    return {
        depth: 0,
        maxDepth: (_a = options.maxDepth) !== null && _a !== void 0 ? _a : DEFAULT_MAX_DEPTH,
        nodesCount: 0,
        maxNodes: (_b = options.maxNodes) !== null && _b !== void 0 ? _b : DEFAULT_MAX_NODES,
        maxContentLength: (_c = options.maxContentLength) !== null && _c !== void 0 ? _c : DEFAULT_MAX_CONTENT_LENGTH,
        parseEmbedded: (_d = options.parseEmbedded) !== null && _d !== void 0 ? _d : true
    };
}
function createErrorResult(error) {
    const result = new BaseBlock({}, ValueBlock);
    result.error = error;
    return {
        offset: -1,
        result
    };
}
function checkNodesLimit(context) {
    context.nodesCount += 1;
    if (context.nodesCount > context.maxNodes) {
        return MAX_NODES_EXCEEDED_ERROR;
    }
    return undefined;
}
function checkContentLengthLimit(inputLength, context) {
    if (inputLength > context.maxContentLength) {
        return MAX_CONTENT_LENGTH_EXCEEDED_ERROR;
    }
    return undefined;
}
function localFromBERWithChildContext(inputBuffer, inputOffset, inputLength, context) {
    const childDepth = context.depth + 1;
    if (childDepth > context.maxDepth) {
        return createErrorResult(MAX_DEPTH_EXCEEDED_ERROR);
    }
    context.depth = childDepth;
    try {
        return localFromBER(inputBuffer, inputOffset, inputLength, context);
    }
    finally {
        context.depth -= 1;
    }
}
function localChangeType(inputObject, newType) {
    if (inputObject instanceof newType) {
        return inputObject;
    }
    const newObject = new newType();
    newObject.idBlock = inputObject.idBlock;
    newObject.lenBlock = inputObject.lenBlock;
    newObject.warnings = inputObject.warnings;
    newObject.valueBeforeDecodeView = inputObject.valueBeforeDecodeView;
    return newObject;
}
function localFromBER(inputBuffer, inputOffset = 0, inputLength = inputBuffer.length, context = createFromBerContext()) {
    const fastResult = tryFastFromBER(inputBuffer, inputOffset, inputLength, context);
    if (fastResult)
        return fastResult;
    const incomingOffset = inputOffset;
    let returnObject = new BaseBlock({}, ValueBlock);
    if (!checkBufferParams(returnObject, inputBuffer, inputOffset, inputLength)) {
        return {
            offset: -1,
            result: returnObject
        };
    }
    const fastArgs = Number.isInteger(inputOffset) && Number.isInteger(inputLength);
    if (fastArgs ? inputLength === 0 : inputBuffer.subarray(inputOffset, inputOffset + inputLength).length === 0) {
        returnObject.error = "Zero buffer length";
        return {
            offset: -1,
            result: returnObject
        };
    }
    const nodesLimitError = checkNodesLimit(context);
    if (nodesLimitError) {
        returnObject.error = nodesLimitError;
        return {
            offset: -1,
            result: returnObject
        };
    }
    let resultOffset = returnObject.idBlock.fromBER(inputBuffer, inputOffset, inputLength);
    if (returnObject.idBlock.warnings.length) {
        returnObject.warnings.concat(returnObject.idBlock.warnings);
    }
    if (resultOffset === -1) {
        returnObject.error = returnObject.idBlock.error;
        return {
            offset: -1,
            result: returnObject
        };
    }
    inputOffset = resultOffset;
    inputLength -= returnObject.idBlock.blockLength;
    resultOffset = returnObject.lenBlock.fromBER(inputBuffer, inputOffset, inputLength);
    if (returnObject.lenBlock.warnings.length) {
        returnObject.warnings.concat(returnObject.lenBlock.warnings);
    }
    if (resultOffset === -1) {
        returnObject.error = returnObject.lenBlock.error;
        return {
            offset: -1,
            result: returnObject
        };
    }
    inputOffset = resultOffset;
    inputLength -= returnObject.lenBlock.blockLength;
    const valueLength = returnObject.lenBlock.isIndefiniteForm ? inputLength : returnObject.lenBlock.length;
    const contentLengthError = checkContentLengthLimit(valueLength, context);
    if (contentLengthError) {
        returnObject.error = contentLengthError;
        return {
            offset: -1,
            result: returnObject
        };
    }
    if (!returnObject.idBlock.isConstructed && returnObject.lenBlock.isIndefiniteForm) {
        returnObject.error = "Indefinite length form used for primitive encoding form";
        return {
            offset: -1,
            result: returnObject
        };
    }
    let newASN1Type = BaseBlock;
    switch (returnObject.idBlock.tagClass) {
        case 1:
            if (returnObject.idBlock.tagNumber >= 37 && returnObject.idBlock.isHexOnly === false) {
                returnObject.error = "UNIVERSAL 37 and upper tags are reserved by ASN.1 standard";
                return {
                    offset: -1,
                    result: returnObject
                };
            }
            switch (returnObject.idBlock.tagNumber) {
                case 0:
                    if (returnObject.idBlock.isConstructed && returnObject.lenBlock.length > 0) {
                        returnObject.error = "Type [UNIVERSAL 0] is reserved";
                        return {
                            offset: -1,
                            result: returnObject
                        };
                    }
                    newASN1Type = typeStore.EndOfContent;
                    break;
                case 1:
                    newASN1Type = typeStore.Boolean;
                    break;
                case 2:
                    newASN1Type = typeStore.Integer;
                    break;
                case 3:
                    newASN1Type = typeStore.BitString;
                    break;
                case 4:
                    newASN1Type = typeStore.OctetString;
                    break;
                case 5:
                    newASN1Type = typeStore.Null;
                    break;
                case 6:
                    newASN1Type = typeStore.ObjectIdentifier;
                    break;
                case 10:
                    newASN1Type = typeStore.Enumerated;
                    break;
                case 12:
                    newASN1Type = typeStore.Utf8String;
                    break;
                case 13:
                    newASN1Type = typeStore.RelativeObjectIdentifier;
                    break;
                case 14:
                    newASN1Type = typeStore.TIME;
                    break;
                case 15:
                    returnObject.error = "[UNIVERSAL 15] is reserved by ASN.1 standard";
                    return {
                        offset: -1,
                        result: returnObject
                    };
                case 16:
                    newASN1Type = typeStore.Sequence;
                    break;
                case 17:
                    newASN1Type = typeStore.Set;
                    break;
                case 18:
                    newASN1Type = typeStore.NumericString;
                    break;
                case 19:
                    newASN1Type = typeStore.PrintableString;
                    break;
                case 20:
                    newASN1Type = typeStore.TeletexString;
                    break;
                case 21:
                    newASN1Type = typeStore.VideotexString;
                    break;
                case 22:
                    newASN1Type = typeStore.IA5String;
                    break;
                case 23:
                    newASN1Type = typeStore.UTCTime;
                    break;
                case 24:
                    newASN1Type = typeStore.GeneralizedTime;
                    break;
                case 25:
                    newASN1Type = typeStore.GraphicString;
                    break;
                case 26:
                    newASN1Type = typeStore.VisibleString;
                    break;
                case 27:
                    newASN1Type = typeStore.GeneralString;
                    break;
                case 28:
                    newASN1Type = typeStore.UniversalString;
                    break;
                case 29:
                    newASN1Type = typeStore.CharacterString;
                    break;
                case 30:
                    newASN1Type = typeStore.BmpString;
                    break;
                case 31:
                    newASN1Type = typeStore.DATE;
                    break;
                case 32:
                    newASN1Type = typeStore.TimeOfDay;
                    break;
                case 33:
                    newASN1Type = typeStore.DateTime;
                    break;
                case 34:
                    newASN1Type = typeStore.Duration;
                    break;
                default: {
                    const newObject = returnObject.idBlock.isConstructed
                        ? new typeStore.Constructed()
                        : new typeStore.Primitive();
                    newObject.idBlock = returnObject.idBlock;
                    newObject.lenBlock = returnObject.lenBlock;
                    newObject.warnings = returnObject.warnings;
                    returnObject = newObject;
                }
            }
            break;
        case 2:
        case 3:
        case 4:
        default: {
            newASN1Type = returnObject.idBlock.isConstructed ? typeStore.Constructed : typeStore.Primitive;
        }
    }
    returnObject = localChangeType(returnObject, newASN1Type);
    resultOffset = returnObject.fromBER(inputBuffer, inputOffset, valueLength, context);
    returnObject.valueBeforeDecodeView = inputBuffer.subarray(incomingOffset, incomingOffset + returnObject.blockLength);
    return {
        offset: resultOffset,
        result: returnObject
    };
}
function fromBER(inputBuffer, options = {}) {
    if (!inputBuffer.byteLength) {
        const result = new BaseBlock({}, ValueBlock);
        result.error = "Input buffer has zero length";
        return {
            offset: -1,
            result
        };
    }
    const inputView = BufferSourceConverter.toUint8Array(inputBuffer);
    const normalizedInput = options.copyInput === false ? inputView : inputView.slice();
    return localFromBER(normalizedInput, 0, inputBuffer.byteLength, createFromBerContext(options));
}

function checkLen(indefiniteLength, length) {
    if (indefiniteLength) {
        return 1;
    }
    return length;
}
class LocalConstructedValueBlock extends ValueBlock {
    constructor({ value = [], isIndefiniteForm = false, ...parameters } = {}) {
        super(parameters);
        this.value = value;
        this.isIndefiniteForm = isIndefiniteForm;
    }
    fromBER(inputBuffer, inputOffset, inputLength, context) {
        const view = BufferSourceConverter.toUint8Array(inputBuffer);
        const parseContext = context !== null && context !== void 0 ? context : createFromBerContext();
        if (!checkBufferParams(this, view, inputOffset, inputLength)) {
            return -1;
        }
        this.valueBeforeDecodeView = view.subarray(inputOffset, inputOffset + inputLength);
        if (this.valueBeforeDecodeView.length === 0) {
            this.warnings.push("Zero buffer length");
            return inputOffset;
        }
        let currentOffset = inputOffset;
        while (checkLen(this.isIndefiniteForm, inputLength) > 0) {
            const returnObject = localFromBERWithChildContext(view, currentOffset, inputLength, parseContext);
            if (returnObject.offset === -1) {
                this.error = returnObject.result.error;
                this.warnings.concat(returnObject.result.warnings);
                return -1;
            }
            currentOffset = returnObject.offset;
            this.blockLength += returnObject.result.blockLength;
            inputLength -= returnObject.result.blockLength;
            this.value.push(returnObject.result);
            if (this.isIndefiniteForm && returnObject.result.constructor.NAME === END_OF_CONTENT_NAME) {
                break;
            }
        }
        if (this.isIndefiniteForm) {
            if (this.value[this.value.length - 1].constructor.NAME === END_OF_CONTENT_NAME) {
                this.value.pop();
            }
            else {
                this.warnings.push("No EndOfContent block encoded");
            }
        }
        return currentOffset;
    }
    toBER(sizeOnly, writer) {
        const _writer = writer || new ViewWriter();
        for (let i = 0; i < this.value.length; i++) {
            this.value[i].toBER(sizeOnly, _writer);
        }
        if (!writer) {
            return _writer.final();
        }
        return EMPTY_BUFFER;
    }
    toJSON() {
        const object = {
            ...super.toJSON(),
            isIndefiniteForm: this.isIndefiniteForm,
            value: []
        };
        for (const value of this.value) {
            object.value.push(value.toJSON());
        }
        return object;
    }
}
LocalConstructedValueBlock.NAME = "ConstructedValueBlock";
const ORIGINAL_LOCAL_CONSTRUCTED_TO_BER = LocalConstructedValueBlock.prototype.toBER;

var _a$v;
class Constructed extends BaseBlock {
    constructor(parameters = {}) {
        super(parameters, LocalConstructedValueBlock);
        this.idBlock.isConstructed = true;
    }
    fromBER(inputBuffer, inputOffset, inputLength, context) {
        this.valueBlock.isIndefiniteForm = this.lenBlock.isIndefiniteForm;
        const resultOffset = this.valueBlock.fromBER(inputBuffer, inputOffset, this.lenBlock.isIndefiniteForm ? inputLength : this.lenBlock.length, context);
        if (resultOffset === -1) {
            this.error = this.valueBlock.error;
            return resultOffset;
        }
        if (!this.idBlock.error.length)
            this.blockLength += this.idBlock.blockLength;
        if (!this.lenBlock.error.length)
            this.blockLength += this.lenBlock.blockLength;
        if (!this.valueBlock.error.length)
            this.blockLength += this.valueBlock.blockLength;
        return resultOffset;
    }
    onAsciiEncoding() {
        const values = [];
        for (const value of this.valueBlock.value) {
            values.push(value
                .toString("ascii")
                .split("\n")
                .map(o => `  ${o}`)
                .join("\n"));
        }
        const blockName = this.idBlock.tagClass === 3 ? `[${this.idBlock.tagNumber}]` : this.constructor.NAME;
        return values.length
            ? `${blockName} :\n${values.join("\n")}`
            : `${blockName} :`;
    }
}
_a$v = Constructed;
(() => {
    typeStore.Constructed = _a$v;
})();
Constructed.NAME = "CONSTRUCTED";

class LocalEndOfContentValueBlock extends ValueBlock {
    fromBER(inputBuffer, inputOffset, _inputLength) {
        return inputOffset;
    }
    toBER(_sizeOnly) {
        return EMPTY_BUFFER;
    }
}
LocalEndOfContentValueBlock.override = "EndOfContentValueBlock";

var _a$u;
class EndOfContent extends BaseBlock {
    constructor(parameters = {}) {
        super(parameters, LocalEndOfContentValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 0;
    }
}
_a$u = EndOfContent;
(() => {
    typeStore.EndOfContent = _a$u;
})();
EndOfContent.NAME = END_OF_CONTENT_NAME;

var _a$t;
class Null extends BaseBlock {
    constructor(parameters = {}) {
        super(parameters, ValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 5;
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        if (this.lenBlock.length > 0)
            this.warnings.push("Non-zero length of value block for Null type");
        if (!this.idBlock.error.length)
            this.blockLength += this.idBlock.blockLength;
        if (!this.lenBlock.error.length)
            this.blockLength += this.lenBlock.blockLength;
        this.blockLength += inputLength;
        if (inputOffset + inputLength > inputBuffer.byteLength) {
            this.error = "End of input reached before message was fully decoded (inconsistent offset and length values)";
            return -1;
        }
        return inputOffset + inputLength;
    }
    toBER(sizeOnly, writer) {
        const retBuf = new ArrayBuffer(2);
        if (!sizeOnly) {
            const retView = new Uint8Array(retBuf);
            retView[0] = 0x05;
            retView[1] = 0x00;
        }
        if (writer) {
            writer.write(retBuf);
        }
        return retBuf;
    }
    onAsciiEncoding() {
        return `${this.constructor.NAME}`;
    }
}
_a$t = Null;
(() => {
    typeStore.Null = _a$t;
})();
Null.NAME = "NULL";

class LocalBooleanValueBlock extends HexBlock(ValueBlock) {
    get value() {
        for (const octet of this.valueHexView) {
            if (octet > 0) {
                return true;
            }
        }
        return false;
    }
    set value(value) {
        this.valueHexView[0] = value ? 0xff : 0x00;
    }
    constructor({ value, ...parameters } = {}) {
        super(parameters);
        if (parameters.valueHex) {
            this.valueHexView = BufferSourceConverter.toUint8Array(parameters.valueHex);
        }
        else {
            this.valueHexView = new Uint8Array(1);
        }
        if (value) {
            this.value = value;
        }
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        const inputView = BufferSourceConverter.toUint8Array(inputBuffer);
        if (!checkBufferParams(this, inputView, inputOffset, inputLength)) {
            return -1;
        }
        this.valueHexView = inputView.subarray(inputOffset, inputOffset + inputLength);
        if (inputLength > 1)
            this.warnings.push("Boolean value encoded in more then 1 octet");
        this.isHexOnly = true;
        utilDecodeTC.call(this);
        this.blockLength = inputLength;
        return inputOffset + inputLength;
    }
    toBER() {
        return this.valueHexView.slice().buffer;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            value: this.value
        };
    }
}
LocalBooleanValueBlock.NAME = "BooleanValueBlock";

var _a$s;
let Boolean$1 = class Boolean extends BaseBlock {
    getValue() {
        return this.valueBlock.value;
    }
    setValue(value) {
        this.valueBlock.value = value;
    }
    constructor(parameters = {}) {
        super(parameters, LocalBooleanValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 1;
    }
    onAsciiEncoding() {
        return `${this.constructor.NAME} : ${this.getValue}`;
    }
};
_a$s = Boolean$1;
(() => {
    typeStore.Boolean = _a$s;
})();
Boolean$1.NAME = "BOOLEAN";

class LocalOctetStringValueBlock extends HexBlock(LocalConstructedValueBlock) {
    constructor({ isConstructed = false, ...parameters } = {}) {
        super(parameters);
        this.isConstructed = isConstructed;
    }
    fromBER(inputBuffer, inputOffset, inputLength, context) {
        let resultOffset = 0;
        if (this.isConstructed) {
            this.isHexOnly = false;
            resultOffset = LocalConstructedValueBlock.prototype.fromBER.call(this, inputBuffer, inputOffset, inputLength, context);
            if (resultOffset === -1)
                return resultOffset;
            for (let i = 0; i < this.value.length; i++) {
                const currentBlockName = this.value[i].constructor.NAME;
                if (currentBlockName === END_OF_CONTENT_NAME) {
                    if (this.isIndefiniteForm)
                        break;
                    else {
                        this.error = "EndOfContent is unexpected, OCTET STRING may consists of OCTET STRINGs only";
                        return -1;
                    }
                }
                if (currentBlockName !== OCTET_STRING_NAME) {
                    this.error = "OCTET STRING may consists of OCTET STRINGs only";
                    return -1;
                }
            }
        }
        else {
            this.isHexOnly = true;
            resultOffset = super.fromBER(inputBuffer, inputOffset, inputLength);
            this.blockLength = inputLength;
        }
        return resultOffset;
    }
    toBER(sizeOnly, writer) {
        if (this.isConstructed)
            return LocalConstructedValueBlock.prototype.toBER.call(this, sizeOnly, writer);
        return sizeOnly ? new ArrayBuffer(this.valueHexView.byteLength) : this.valueHexView.slice().buffer;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            isConstructed: this.isConstructed
        };
    }
}
LocalOctetStringValueBlock.NAME = "OctetStringValueBlock";
const ORIGINAL_LOCAL_OCTET_STRING_TO_BER = LocalOctetStringValueBlock.prototype.toBER;

var _a$r;
let OctetString$1 = class OctetString extends BaseBlock {
    constructor({ idBlock = {}, lenBlock = {}, ...parameters } = {}) {
        var _b, _c;
        (_b = parameters.isConstructed) !== null && _b !== void 0 ? _b : (parameters.isConstructed = !!((_c = parameters.value) === null || _c === void 0 ? void 0 : _c.length));
        super({
            idBlock: {
                isConstructed: parameters.isConstructed,
                ...idBlock
            },
            lenBlock: {
                ...lenBlock,
                isIndefiniteForm: !!parameters.isIndefiniteForm
            },
            ...parameters
        }, LocalOctetStringValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 4;
    }
    fromBER(inputBuffer, inputOffset, inputLength, context) {
        this.valueBlock.isConstructed = this.idBlock.isConstructed;
        this.valueBlock.isIndefiniteForm = this.lenBlock.isIndefiniteForm;
        if (inputLength === 0) {
            if (this.idBlock.error.length === 0)
                this.blockLength += this.idBlock.blockLength;
            if (this.lenBlock.error.length === 0)
                this.blockLength += this.lenBlock.blockLength;
            return inputOffset;
        }
        if (!this.valueBlock.isConstructed && (context === null || context === void 0 ? void 0 : context.parseEmbedded) !== false) {
            const view = inputBuffer instanceof ArrayBuffer ? new Uint8Array(inputBuffer) : inputBuffer;
            const buf = view.subarray(inputOffset, inputOffset + inputLength);
            try {
                if (buf.byteLength) {
                    const parseContext = context !== null && context !== void 0 ? context : createFromBerContext();
                    const asn = localFromBERWithChildContext(buf, 0, buf.byteLength, parseContext);
                    if (asn.offset !== -1 && asn.offset === inputLength) {
                        this.valueBlock.value = [asn.result];
                    }
                }
            }
            catch {
            }
        }
        return super.fromBER(inputBuffer, inputOffset, inputLength, context);
    }
    onAsciiEncoding() {
        if (this.valueBlock.isConstructed || (this.valueBlock.value && this.valueBlock.value.length)) {
            return Constructed.prototype.onAsciiEncoding.call(this);
        }
        const name = this.constructor.NAME;
        const value = Convert.ToHex(this.valueBlock.valueHexView);
        return `${name} : ${value}`;
    }
    getValue() {
        if (!this.idBlock.isConstructed) {
            return this.valueBlock.valueHexView.slice().buffer;
        }
        const array = [];
        for (const content of this.valueBlock.value) {
            if (content instanceof _a$r) {
                array.push(content.valueBlock.valueHexView);
            }
        }
        return BufferSourceConverter.concat(array);
    }
};
_a$r = OctetString$1;
(() => {
    typeStore.OctetString = _a$r;
})();
OctetString$1.NAME = OCTET_STRING_NAME;

class LocalBitStringValueBlock extends HexBlock(LocalConstructedValueBlock) {
    constructor({ unusedBits = 0, isConstructed = false, ...parameters } = {}) {
        super(parameters);
        this.unusedBits = unusedBits;
        this.isConstructed = isConstructed;
        this.blockLength = this.valueHexView.byteLength;
    }
    fromBER(inputBuffer, inputOffset, inputLength, context) {
        if (!inputLength) {
            return inputOffset;
        }
        let resultOffset = -1;
        if (this.isConstructed) {
            resultOffset = LocalConstructedValueBlock.prototype.fromBER.call(this, inputBuffer, inputOffset, inputLength, context);
            if (resultOffset === -1)
                return resultOffset;
            for (const value of this.value) {
                const currentBlockName = value.constructor.NAME;
                if (currentBlockName === END_OF_CONTENT_NAME) {
                    if (this.isIndefiniteForm)
                        break;
                    else {
                        this.error = "EndOfContent is unexpected, BIT STRING may consists of BIT STRINGs only";
                        return -1;
                    }
                }
                if (currentBlockName !== BIT_STRING_NAME) {
                    this.error = "BIT STRING may consists of BIT STRINGs only";
                    return -1;
                }
                const valueBlock = value.valueBlock;
                if (this.unusedBits > 0 && valueBlock.unusedBits > 0) {
                    this.error = 'Using of "unused bits" inside constructive BIT STRING allowed for least one only';
                    return -1;
                }
                this.unusedBits = valueBlock.unusedBits;
            }
            return resultOffset;
        }
        const inputView = BufferSourceConverter.toUint8Array(inputBuffer);
        if (!checkBufferParams(this, inputView, inputOffset, inputLength)) {
            return -1;
        }
        const intBuffer = inputView.subarray(inputOffset, inputOffset + inputLength);
        this.unusedBits = intBuffer[0];
        if (this.unusedBits > 7) {
            this.error = "Unused bits for BitString must be in range 0-7";
            return -1;
        }
        if (!this.unusedBits && (context === null || context === void 0 ? void 0 : context.parseEmbedded) !== false) {
            const buf = intBuffer.subarray(1);
            try {
                if (buf.byteLength) {
                    const parseContext = context !== null && context !== void 0 ? context : createFromBerContext();
                    const asn = localFromBERWithChildContext(buf, 0, buf.byteLength, parseContext);
                    if (asn.offset !== -1 && asn.offset === inputLength - 1) {
                        this.value = [asn.result];
                    }
                }
            }
            catch {
            }
        }
        this.valueHexView = intBuffer.subarray(1);
        this.blockLength = intBuffer.length;
        return inputOffset + inputLength;
    }
    toBER(sizeOnly, writer) {
        if (this.isConstructed) {
            return LocalConstructedValueBlock.prototype.toBER.call(this, sizeOnly, writer);
        }
        if (sizeOnly) {
            return new ArrayBuffer(this.valueHexView.byteLength + 1);
        }
        if (!this.valueHexView.byteLength) {
            const empty = new Uint8Array(1);
            empty[0] = 0;
            return empty.buffer;
        }
        const retView = new Uint8Array(this.valueHexView.length + 1);
        retView[0] = this.unusedBits;
        retView.set(this.valueHexView, 1);
        return retView.buffer;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            unusedBits: this.unusedBits,
            isConstructed: this.isConstructed
        };
    }
}
LocalBitStringValueBlock.NAME = "BitStringValueBlock";
const ORIGINAL_LOCAL_BIT_STRING_TO_BER = LocalBitStringValueBlock.prototype.toBER;

var _a$q;
let BitString$1 = class BitString extends BaseBlock {
    constructor({ idBlock = {}, lenBlock = {}, ...parameters } = {}) {
        var _b, _c;
        (_b = parameters.isConstructed) !== null && _b !== void 0 ? _b : (parameters.isConstructed = !!((_c = parameters.value) === null || _c === void 0 ? void 0 : _c.length));
        super({
            idBlock: {
                isConstructed: parameters.isConstructed,
                ...idBlock
            },
            lenBlock: {
                ...lenBlock,
                isIndefiniteForm: !!parameters.isIndefiniteForm
            },
            ...parameters
        }, LocalBitStringValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 3;
    }
    fromBER(inputBuffer, inputOffset, inputLength, context) {
        this.valueBlock.isConstructed = this.idBlock.isConstructed;
        this.valueBlock.isIndefiniteForm = this.lenBlock.isIndefiniteForm;
        return super.fromBER(inputBuffer, inputOffset, inputLength, context);
    }
    onAsciiEncoding() {
        if (this.valueBlock.isConstructed || (this.valueBlock.value && this.valueBlock.value.length)) {
            return Constructed.prototype.onAsciiEncoding.call(this);
        }
        else {
            const bits = [];
            const valueHex = this.valueBlock.valueHexView;
            for (const byte of valueHex) {
                bits.push(byte.toString(2).padStart(8, "0"));
            }
            const bitsStr = bits.join("");
            const name = this.constructor.NAME;
            const value = bitsStr.substring(0, bitsStr.length - this.valueBlock.unusedBits);
            return `${name} : ${value}`;
        }
    }
};
_a$q = BitString$1;
(() => {
    typeStore.BitString = _a$q;
})();
BitString$1.NAME = BIT_STRING_NAME;

function bytesToSignedBigInt(view) {
    if (!view.byteLength)
        return BigInt(0);
    const value = BigInt(`0x${Convert.ToHex(view)}`);
    if (view[0] & 0x80)
        return value - (BigInt(1) << BigInt(view.byteLength * 8));
    return value;
}
function bytesToSignedDecimal(view) {
    if (typeof BigInt !== "undefined")
        return bytesToSignedBigInt(view).toString(10);
    const BASE = 10000000;
    const DECIMAL_DIGITS = 7;
    if (!view.byteLength)
        return "0";
    const negative = !!(view[0] & 0x80);
    let magnitude = view;
    if (negative) {
        magnitude = new Uint8Array(view.length);
        let carry = 1;
        for (let i = view.length - 1; i >= 0; i--) {
            const value = (view[i] ^ 0xff) + carry;
            magnitude[i] = value & 0xff;
            carry = value >> 8;
        }
    }
    const limbs = [0];
    for (let index = 0; index < magnitude.length; index++) {
        let carry = magnitude[index];
        for (let i = 0; i < limbs.length; i++) {
            const value = limbs[i] * 256 + carry;
            limbs[i] = value % BASE;
            carry = Math.floor(value / BASE);
        }
        if (carry)
            limbs.push(carry);
    }
    let top = limbs.length - 1;
    while (top > 0 && limbs[top] === 0)
        top--;
    let result = String(limbs[top]);
    for (let i = top - 1; i >= 0; i--)
        result += String(limbs[i]).padStart(DECIMAL_DIGITS, "0");
    return negative && result !== "0" ? `-${result}` : result;
}

var _a$p;
class LocalIntegerValueBlock extends HexBlock(ValueBlock) {
    setValueHex() {
        if (this.valueHexView.length >= 4) {
            this.warnings.push("Too big Integer for decoding, hex only");
            this.isHexOnly = true;
            this._valueDec = 0;
        }
        else {
            this.isHexOnly = false;
            if (this.valueHexView.length > 0) {
                this._valueDec = utilDecodeTC.call(this);
            }
        }
    }
    constructor({ value, ...parameters } = {}) {
        super(parameters);
        this._valueDec = 0;
        if (parameters.valueHex) {
            this.setValueHex();
        }
        if (value !== undefined) {
            this.valueDec = value;
        }
    }
    set valueDec(v) {
        this._valueDec = v;
        this.isHexOnly = false;
        this.valueHexView = new Uint8Array(utilEncodeTC(v));
    }
    get valueDec() {
        return this._valueDec;
    }
    fromDER(inputBuffer, inputOffset, inputLength, expectedLength = 0) {
        const offset = this.fromBER(inputBuffer, inputOffset, inputLength);
        if (offset === -1)
            return offset;
        const view = this.valueHexView;
        if (view[0] === 0x00 && (view[1] & 0x80) !== 0) {
            this.valueHexView = view.subarray(1);
        }
        else {
            if (expectedLength !== 0) {
                if (view.length < expectedLength) {
                    if (expectedLength - view.length > 1)
                        expectedLength = view.length + 1;
                    this.valueHexView = view.subarray(expectedLength - view.length);
                }
            }
        }
        return offset;
    }
    toDER(sizeOnly = false) {
        const view = this.valueHexView;
        switch (true) {
            case (view[0] & 0x80) !== 0:
                {
                    const updatedView = new Uint8Array(this.valueHexView.length + 1);
                    updatedView[0] = 0x00;
                    updatedView.set(view, 1);
                    this.valueHexView = updatedView;
                }
                break;
            case view[0] === 0x00 && (view[1] & 0x80) === 0:
                {
                    this.valueHexView = this.valueHexView.subarray(1);
                }
                break;
        }
        return this.toBER(sizeOnly);
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        const resultOffset = super.fromBER(inputBuffer, inputOffset, inputLength);
        if (resultOffset === -1) {
            return resultOffset;
        }
        this.setValueHex();
        return resultOffset;
    }
    toBER(sizeOnly) {
        return sizeOnly ? new ArrayBuffer(this.valueHexView.length) : this.valueHexView.slice().buffer;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            valueDec: this.valueDec
        };
    }
    toString() {
        return bytesToSignedDecimal(this.valueHexView);
    }
}
_a$p = LocalIntegerValueBlock;
LocalIntegerValueBlock.NAME = "IntegerValueBlock";
(() => {
    Object.defineProperty(_a$p.prototype, "valueHex", {
        set: function (v) {
            this.valueHexView = new Uint8Array(v);
            this.setValueHex();
        },
        get: function () {
            return this.valueHexView.slice().buffer;
        }
    });
})();
const ORIGINAL_LOCAL_INTEGER_TO_BER = LocalIntegerValueBlock.prototype.toBER;
const ORIGINAL_LOCAL_INTEGER_TO_STRING = LocalIntegerValueBlock.prototype.toString;

var _a$o;
class Integer extends BaseBlock {
    constructor(parameters = {}) {
        super(parameters, LocalIntegerValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 2;
    }
    toBigInt() {
        assertBigInt();
        const valueBlock = this.valueBlock;
        const toString = valueBlock.toString;
        if (toString === ORIGINAL_LOCAL_INTEGER_TO_STRING)
            return bytesToSignedBigInt(valueBlock.valueHexView);
        return BigInt(Reflect.apply(toString, valueBlock, []));
    }
    static fromBigInt(value) {
        assertBigInt();
        const bigIntValue = BigInt(value);
        const writer = new ViewWriter();
        const hex = bigIntValue.toString(16).replace(/^-/, "");
        const view = new Uint8Array(Convert.FromHex(hex));
        if (bigIntValue < 0) {
            const first = new Uint8Array(view.length + (view[0] & 0x80 ? 1 : 0));
            first[0] |= 0x80;
            const firstInt = BigInt(`0x${Convert.ToHex(first)}`);
            const secondInt = firstInt + bigIntValue;
            const second = BufferSourceConverter.toUint8Array(Convert.FromHex(secondInt.toString(16)));
            second[0] |= 0x80;
            writer.write(second);
        }
        else {
            if (view[0] & 0x80) {
                writer.write(new Uint8Array([0]));
            }
            writer.write(view);
        }
        const res = new _a$o({ valueHex: writer.final() });
        return res;
    }
    convertToDER() {
        const integer = new _a$o({ valueHex: this.valueBlock.valueHexView });
        integer.valueBlock.toDER();
        return integer;
    }
    convertFromDER() {
        return new _a$o({
            valueHex: this.valueBlock.valueHexView[0] === 0 ? this.valueBlock.valueHexView.subarray(1) : this.valueBlock.valueHexView
        });
    }
    onAsciiEncoding() {
        return `${this.constructor.NAME} : ${this.valueBlock.toString()}`;
    }
}
_a$o = Integer;
(() => {
    typeStore.Integer = _a$o;
})();
Integer.NAME = "INTEGER";

var _a$n;
class Enumerated extends Integer {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 10;
    }
}
_a$n = Enumerated;
(() => {
    typeStore.Enumerated = _a$n;
})();
Enumerated.NAME = "ENUMERATED";

class LocalSidValueBlock extends HexBlock(ValueBlock) {
    constructor({ valueDec = -1, isFirstSid = false, ...parameters } = {}) {
        super(parameters);
        this.valueDec = valueDec;
        this.isFirstSid = isFirstSid;
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        if (!inputLength) {
            return inputOffset;
        }
        const inputView = BufferSourceConverter.toUint8Array(inputBuffer);
        if (!checkBufferParams(this, inputView, inputOffset, inputLength)) {
            return -1;
        }
        const intBuffer = inputView.subarray(inputOffset, inputOffset + inputLength);
        const fastPath = this.blockLength === 0 && Number.isInteger(inputOffset) && Number.isInteger(inputLength);
        if (fastPath) {
            let sidLength = 0;
            while (sidLength < inputLength) {
                const octet = intBuffer[sidLength];
                sidLength++;
                if ((octet & 0x80) === 0x00)
                    break;
            }
            this.blockLength = sidLength;
            this.valueHexView = new Uint8Array(sidLength);
            for (let i = 0; i < sidLength; i++)
                this.valueHexView[i] = intBuffer[i] & 0x7f;
        }
        else {
            this.valueHexView = new Uint8Array(inputLength);
            for (let i = 0; i < inputLength; i++) {
                this.valueHexView[i] = intBuffer[i] & 0x7f;
                this.blockLength++;
                if ((intBuffer[i] & 0x80) === 0x00)
                    break;
            }
            const tempView = new Uint8Array(this.blockLength);
            for (let i = 0; i < this.blockLength; i++) {
                tempView[i] = this.valueHexView[i];
            }
            this.valueHexView = tempView;
        }
        if ((intBuffer[this.blockLength - 1] & 0x80) !== 0x00) {
            this.error = "End of input reached before message was fully decoded";
            return -1;
        }
        if (this.valueHexView[0] === 0x00)
            this.warnings.push("Needlessly long format of SID encoding");
        if (this.blockLength <= 8)
            this.valueDec = utilFromBase(this.valueHexView, 7);
        else {
            this.isHexOnly = true;
            this.warnings.push("Too big SID for decoding, hex only");
        }
        return inputOffset + this.blockLength;
    }
    set valueBigInt(value) {
        assertBigInt();
        let bits = BigInt(value).toString(2);
        while (bits.length % 7) {
            bits = "0" + bits;
        }
        const bytes = new Uint8Array(bits.length / 7);
        for (let i = 0; i < bytes.length; i++) {
            bytes[i] = parseInt(bits.slice(i * 7, i * 7 + 7), 2) + (i + 1 < bytes.length ? 0x80 : 0);
        }
        this.fromBER(bytes.buffer, 0, bytes.length);
    }
    toBER(sizeOnly) {
        if (this.isHexOnly) {
            if (sizeOnly)
                return new ArrayBuffer(this.valueHexView.byteLength);
            const curView = this.valueHexView;
            const retView = new Uint8Array(this.blockLength);
            for (let i = 0; i < this.blockLength - 1; i++)
                retView[i] = curView[i] | 0x80;
            retView[this.blockLength - 1] = curView[this.blockLength - 1];
            return BufferSourceConverter.toArrayBuffer(retView);
        }
        const encodedBuf = utilToBase(this.valueDec, 7);
        if (encodedBuf.byteLength === 0) {
            this.error = "Error during encoding SID value";
            return EMPTY_BUFFER;
        }
        const retView = new Uint8Array(encodedBuf.byteLength);
        if (!sizeOnly) {
            const encodedView = new Uint8Array(encodedBuf);
            const len = encodedBuf.byteLength - 1;
            for (let i = 0; i < len; i++)
                retView[i] = encodedView[i] | 0x80;
            retView[len] = encodedView[len];
        }
        return BufferSourceConverter.toArrayBuffer(retView);
    }
    toString() {
        let result = "";
        if (this.isHexOnly)
            result = Convert.ToHex(this.valueHexView);
        else {
            if (this.isFirstSid) {
                let sidValue = this.valueDec;
                if (this.valueDec <= 39)
                    result = "0.";
                else {
                    if (this.valueDec <= 79) {
                        result = "1.";
                        sidValue -= 40;
                    }
                    else {
                        result = "2.";
                        sidValue -= 80;
                    }
                }
                result += sidValue.toString();
            }
            else
                result = this.valueDec.toString();
        }
        return result;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            valueDec: this.valueDec,
            isFirstSid: this.isFirstSid
        };
    }
}
LocalSidValueBlock.NAME = "sidBlock";

class LocalObjectIdentifierValueBlock extends ValueBlock {
    constructor({ value = EMPTY_STRING, ...parameters } = {}) {
        super(parameters);
        this.value = [];
        if (value) {
            this.fromString(value);
        }
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        let resultOffset = inputOffset;
        while (inputLength > 0) {
            const sidBlock = new LocalSidValueBlock();
            resultOffset = sidBlock.fromBER(inputBuffer, resultOffset, inputLength);
            if (resultOffset === -1) {
                this.blockLength = 0;
                this.error = sidBlock.error;
                return resultOffset;
            }
            if (this.value.length === 0)
                sidBlock.isFirstSid = true;
            this.blockLength += sidBlock.blockLength;
            inputLength -= sidBlock.blockLength;
            this.value.push(sidBlock);
        }
        return resultOffset;
    }
    toBER(sizeOnly) {
        const retBuffers = [];
        for (let i = 0; i < this.value.length; i++) {
            const valueBuf = this.value[i].toBER(sizeOnly);
            if (valueBuf.byteLength === 0) {
                this.error = this.value[i].error;
                return EMPTY_BUFFER;
            }
            retBuffers.push(valueBuf);
        }
        return concat(retBuffers);
    }
    fromString(string) {
        this.value = [];
        let pos1 = 0;
        let pos2 = 0;
        let sid = "";
        let flag = false;
        do {
            pos2 = string.indexOf(".", pos1);
            if (pos2 === -1)
                sid = string.substring(pos1);
            else
                sid = string.substring(pos1, pos2);
            pos1 = pos2 + 1;
            if (flag) {
                const sidBlock = this.value[0];
                let plus = 0;
                switch (sidBlock.valueDec) {
                    case 0:
                        break;
                    case 1:
                        plus = 40;
                        break;
                    case 2:
                        plus = 80;
                        break;
                    default:
                        this.value = [];
                        return;
                }
                const parsedSID = parseInt(sid, 10);
                if (isNaN(parsedSID))
                    return;
                sidBlock.valueDec = parsedSID + plus;
                flag = false;
            }
            else {
                const sidBlock = new LocalSidValueBlock();
                if (sid > Number.MAX_SAFE_INTEGER) {
                    assertBigInt();
                    const sidValue = BigInt(sid);
                    sidBlock.valueBigInt = sidValue;
                }
                else {
                    sidBlock.valueDec = parseInt(sid, 10);
                    if (isNaN(sidBlock.valueDec))
                        return;
                }
                if (!this.value.length) {
                    sidBlock.isFirstSid = true;
                    flag = true;
                }
                this.value.push(sidBlock);
            }
        } while (pos2 !== -1);
    }
    toString() {
        let result = "";
        let isHexOnly = false;
        for (let i = 0; i < this.value.length; i++) {
            isHexOnly = this.value[i].isHexOnly;
            let sidStr = this.value[i].toString();
            if (i !== 0)
                result = `${result}.`;
            if (isHexOnly) {
                sidStr = `{${sidStr}}`;
                if (this.value[i].isFirstSid)
                    result = `2.{${sidStr} - 80}`;
                else
                    result += sidStr;
            }
            else
                result += sidStr;
        }
        return result;
    }
    toJSON() {
        const object = {
            ...super.toJSON(),
            value: this.toString(),
            sidArray: []
        };
        for (let i = 0; i < this.value.length; i++) {
            object.sidArray.push(this.value[i].toJSON());
        }
        return object;
    }
}
LocalObjectIdentifierValueBlock.NAME = "ObjectIdentifierValueBlock";

var _a$m;
class ObjectIdentifier extends BaseBlock {
    getValue() {
        return this.valueBlock.toString();
    }
    setValue(value) {
        this.valueBlock.fromString(value);
    }
    constructor(parameters = {}) {
        super(parameters, LocalObjectIdentifierValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 6;
    }
    onAsciiEncoding() {
        return `${this.constructor.NAME} : ${this.valueBlock.toString() || "empty"}`;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            value: this.getValue()
        };
    }
}
_a$m = ObjectIdentifier;
(() => {
    typeStore.ObjectIdentifier = _a$m;
})();
ObjectIdentifier.NAME = "OBJECT IDENTIFIER";

class LocalRelativeSidValueBlock extends HexBlock(LocalBaseBlock) {
    constructor({ valueDec = 0, ...parameters } = {}) {
        super(parameters);
        this.valueDec = valueDec;
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        if (inputLength === 0)
            return inputOffset;
        const inputView = BufferSourceConverter.toUint8Array(inputBuffer);
        if (!checkBufferParams(this, inputView, inputOffset, inputLength))
            return -1;
        const intBuffer = inputView.subarray(inputOffset, inputOffset + inputLength);
        const fastPath = this.blockLength === 0 && Number.isInteger(inputOffset) && Number.isInteger(inputLength);
        if (fastPath) {
            let sidLength = 0;
            while (sidLength < inputLength) {
                const octet = intBuffer[sidLength];
                sidLength++;
                if ((octet & 0x80) === 0x00)
                    break;
            }
            this.blockLength = sidLength;
            this.valueHexView = new Uint8Array(sidLength);
            for (let i = 0; i < sidLength; i++)
                this.valueHexView[i] = intBuffer[i] & 0x7f;
        }
        else {
            this.valueHexView = new Uint8Array(inputLength);
            for (let i = 0; i < inputLength; i++) {
                this.valueHexView[i] = intBuffer[i] & 0x7f;
                this.blockLength++;
                if ((intBuffer[i] & 0x80) === 0x00)
                    break;
            }
            const tempView = new Uint8Array(this.blockLength);
            for (let i = 0; i < this.blockLength; i++)
                tempView[i] = this.valueHexView[i];
            this.valueHexView = tempView;
        }
        if ((intBuffer[this.blockLength - 1] & 0x80) !== 0x00) {
            this.error = "End of input reached before message was fully decoded";
            return -1;
        }
        if (this.valueHexView[0] === 0x00)
            this.warnings.push("Needlessly long format of SID encoding");
        if (this.blockLength <= 8)
            this.valueDec = utilFromBase(this.valueHexView, 7);
        else {
            this.isHexOnly = true;
            this.warnings.push("Too big SID for decoding, hex only");
        }
        return inputOffset + this.blockLength;
    }
    toBER(sizeOnly) {
        if (this.isHexOnly) {
            if (sizeOnly)
                return new ArrayBuffer(this.valueHexView.byteLength);
            const curView = this.valueHexView;
            const retView = new Uint8Array(this.blockLength);
            for (let i = 0; i < this.blockLength - 1; i++)
                retView[i] = curView[i] | 0x80;
            retView[this.blockLength - 1] = curView[this.blockLength - 1];
            return retView.buffer;
        }
        const encodedBuf = utilToBase(this.valueDec, 7);
        if (encodedBuf.byteLength === 0) {
            this.error = "Error during encoding SID value";
            return EMPTY_BUFFER;
        }
        const retView = new Uint8Array(encodedBuf.byteLength);
        if (!sizeOnly) {
            const encodedView = new Uint8Array(encodedBuf);
            const len = encodedBuf.byteLength - 1;
            for (let i = 0; i < len; i++)
                retView[i] = encodedView[i] | 0x80;
            retView[len] = encodedView[len];
        }
        return retView.buffer;
    }
    toString() {
        let result = "";
        if (this.isHexOnly)
            result = Convert.ToHex(this.valueHexView);
        else {
            result = this.valueDec.toString();
        }
        return result;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            valueDec: this.valueDec
        };
    }
}
LocalRelativeSidValueBlock.NAME = "relativeSidBlock";

class LocalRelativeObjectIdentifierValueBlock extends ValueBlock {
    constructor({ value = EMPTY_STRING, ...parameters } = {}) {
        super(parameters);
        this.value = [];
        if (value) {
            this.fromString(value);
        }
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        let resultOffset = inputOffset;
        while (inputLength > 0) {
            const sidBlock = new LocalRelativeSidValueBlock();
            resultOffset = sidBlock.fromBER(inputBuffer, resultOffset, inputLength);
            if (resultOffset === -1) {
                this.blockLength = 0;
                this.error = sidBlock.error;
                return resultOffset;
            }
            this.blockLength += sidBlock.blockLength;
            inputLength -= sidBlock.blockLength;
            this.value.push(sidBlock);
        }
        return resultOffset;
    }
    toBER(sizeOnly, _writer) {
        const retBuffers = [];
        for (let i = 0; i < this.value.length; i++) {
            const valueBuf = this.value[i].toBER(sizeOnly);
            if (valueBuf.byteLength === 0) {
                this.error = this.value[i].error;
                return EMPTY_BUFFER;
            }
            retBuffers.push(valueBuf);
        }
        return concat(retBuffers);
    }
    fromString(string) {
        this.value = [];
        let pos1 = 0;
        let pos2 = 0;
        let sid = "";
        do {
            pos2 = string.indexOf(".", pos1);
            if (pos2 === -1)
                sid = string.substring(pos1);
            else
                sid = string.substring(pos1, pos2);
            pos1 = pos2 + 1;
            const sidBlock = new LocalRelativeSidValueBlock();
            sidBlock.valueDec = parseInt(sid, 10);
            if (isNaN(sidBlock.valueDec))
                return true;
            this.value.push(sidBlock);
        } while (pos2 !== -1);
        return true;
    }
    toString() {
        let result = "";
        let isHexOnly = false;
        for (let i = 0; i < this.value.length; i++) {
            isHexOnly = this.value[i].isHexOnly;
            let sidStr = this.value[i].toString();
            if (i !== 0)
                result = `${result}.`;
            if (isHexOnly) {
                sidStr = `{${sidStr}}`;
                result += sidStr;
            }
            else
                result += sidStr;
        }
        return result;
    }
    toJSON() {
        const object = {
            ...super.toJSON(),
            value: this.toString(),
            sidArray: []
        };
        for (let i = 0; i < this.value.length; i++)
            object.sidArray.push(this.value[i].toJSON());
        return object;
    }
}
LocalRelativeObjectIdentifierValueBlock.NAME = "RelativeObjectIdentifierValueBlock";

var _a$l;
class RelativeObjectIdentifier extends BaseBlock {
    getValue() {
        return this.valueBlock.toString();
    }
    setValue(value) {
        this.valueBlock.fromString(value);
    }
    constructor(parameters = {}) {
        super(parameters, LocalRelativeObjectIdentifierValueBlock);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 13;
    }
    onAsciiEncoding() {
        return `${this.constructor.NAME} : ${this.valueBlock.toString() || "empty"}`;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            value: this.getValue()
        };
    }
}
_a$l = RelativeObjectIdentifier;
(() => {
    typeStore.RelativeObjectIdentifier = _a$l;
})();
RelativeObjectIdentifier.NAME = "RelativeObjectIdentifier";

var _a$k;
class Sequence extends Constructed {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 16;
    }
}
_a$k = Sequence;
(() => {
    typeStore.Sequence = _a$k;
})();
Sequence.NAME = "SEQUENCE";

var _a$j;
let Set$1 = class Set extends Constructed {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 17;
    }
};
_a$j = Set$1;
(() => {
    typeStore.Set = _a$j;
})();
Set$1.NAME = "SET";

class LocalStringValueBlock extends HexBlock(ValueBlock) {
    constructor({ ...parameters } = {}) {
        super(parameters);
        this.isHexOnly = true;
        this.value = EMPTY_STRING;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            value: this.value
        };
    }
}
LocalStringValueBlock.NAME = "StringValueBlock";

class LocalSimpleStringValueBlock extends LocalStringValueBlock {
}
LocalSimpleStringValueBlock.NAME = "SimpleStringValueBlock";

class LocalSimpleStringBlock extends BaseStringBlock {
    constructor({ ...parameters } = {}) {
        super(parameters, LocalSimpleStringValueBlock);
    }
    fromBuffer(inputBuffer) {
        this.valueBlock.value = String.fromCharCode.apply(null, BufferSourceConverter.toUint8Array(inputBuffer));
    }
    fromString(inputString) {
        const strLen = inputString.length;
        const view = (this.valueBlock.valueHexView = new Uint8Array(strLen));
        for (let i = 0; i < strLen; i++)
            view[i] = inputString.charCodeAt(i);
        this.valueBlock.value = inputString;
    }
}
LocalSimpleStringBlock.NAME = "SIMPLE STRING";

class LocalUtf8StringValueBlock extends LocalSimpleStringBlock {
    fromBuffer(inputBuffer) {
        this.valueBlock.valueHexView = BufferSourceConverter.toUint8Array(inputBuffer);
        try {
            this.valueBlock.value = Convert.ToUtf8String(inputBuffer);
        }
        catch (ex) {
            this.warnings.push(`Error during "decodeURIComponent": ${ex}, using raw string`);
            this.valueBlock.value = Convert.ToBinary(inputBuffer);
        }
    }
    fromString(inputString) {
        this.valueBlock.valueHexView = new Uint8Array(Convert.FromUtf8String(inputString));
        this.valueBlock.value = inputString;
    }
}
LocalUtf8StringValueBlock.NAME = "Utf8StringValueBlock";

var _a$i;
class Utf8String extends LocalUtf8StringValueBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 12;
    }
}
_a$i = Utf8String;
(() => {
    typeStore.Utf8String = _a$i;
})();
Utf8String.NAME = "UTF8String";

class LocalBmpStringValueBlock extends LocalSimpleStringBlock {
    fromBuffer(inputBuffer) {
        this.valueBlock.value = Convert.ToUtf16String(inputBuffer);
        this.valueBlock.valueHexView = BufferSourceConverter.toUint8Array(inputBuffer);
    }
    fromString(inputString) {
        this.valueBlock.value = inputString;
        this.valueBlock.valueHexView = new Uint8Array(Convert.FromUtf16String(inputString));
    }
}
LocalBmpStringValueBlock.NAME = "BmpStringValueBlock";

var _a$h;
class BmpString extends LocalBmpStringValueBlock {
    constructor({ ...parameters } = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 30;
    }
}
_a$h = BmpString;
(() => {
    typeStore.BmpString = _a$h;
})();
BmpString.NAME = "BMPString";

class LocalUniversalStringValueBlock extends LocalSimpleStringBlock {
    fromBuffer(inputBuffer) {
        const copyBuffer = ArrayBuffer.isView(inputBuffer) ? inputBuffer.slice().buffer : inputBuffer.slice(0);
        const valueView = new Uint8Array(copyBuffer);
        for (let i = 0; i < valueView.length; i += 4) {
            valueView[i] = valueView[i + 3];
            valueView[i + 1] = valueView[i + 2];
            valueView[i + 2] = 0x00;
            valueView[i + 3] = 0x00;
        }
        this.valueBlock.value = String.fromCharCode.apply(null, new Uint32Array(copyBuffer));
    }
    fromString(inputString) {
        const strLength = inputString.length;
        const valueHexView = (this.valueBlock.valueHexView = new Uint8Array(strLength * 4));
        for (let i = 0; i < strLength; i++) {
            const codeBuf = utilToBase(inputString.charCodeAt(i), 8);
            const codeView = new Uint8Array(codeBuf);
            if (codeView.length > 4)
                continue;
            const dif = 4 - codeView.length;
            for (let j = codeView.length - 1; j >= 0; j--)
                valueHexView[i * 4 + j + dif] = codeView[j];
        }
        this.valueBlock.value = inputString;
    }
}
LocalUniversalStringValueBlock.NAME = "UniversalStringValueBlock";

var _a$g;
class UniversalString extends LocalUniversalStringValueBlock {
    constructor({ ...parameters } = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 28;
    }
}
_a$g = UniversalString;
(() => {
    typeStore.UniversalString = _a$g;
})();
UniversalString.NAME = "UniversalString";

var _a$f;
class NumericString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 18;
    }
}
_a$f = NumericString;
(() => {
    typeStore.NumericString = _a$f;
})();
NumericString.NAME = "NumericString";

var _a$e;
class PrintableString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 19;
    }
}
_a$e = PrintableString;
(() => {
    typeStore.PrintableString = _a$e;
})();
PrintableString.NAME = "PrintableString";

var _a$d;
class TeletexString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 20;
    }
}
_a$d = TeletexString;
(() => {
    typeStore.TeletexString = _a$d;
})();
TeletexString.NAME = "TeletexString";

var _a$c;
class VideotexString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 21;
    }
}
_a$c = VideotexString;
(() => {
    typeStore.VideotexString = _a$c;
})();
VideotexString.NAME = "VideotexString";

var _a$b;
class IA5String extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 22;
    }
}
_a$b = IA5String;
(() => {
    typeStore.IA5String = _a$b;
})();
IA5String.NAME = "IA5String";

var _a$a;
class GraphicString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 25;
    }
}
_a$a = GraphicString;
(() => {
    typeStore.GraphicString = _a$a;
})();
GraphicString.NAME = "GraphicString";

var _a$9;
class VisibleString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 26;
    }
}
_a$9 = VisibleString;
(() => {
    typeStore.VisibleString = _a$9;
})();
VisibleString.NAME = "VisibleString";

var _a$8;
class GeneralString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 27;
    }
}
_a$8 = GeneralString;
(() => {
    typeStore.GeneralString = _a$8;
})();
GeneralString.NAME = "GeneralString";

var _a$7;
class CharacterString extends LocalSimpleStringBlock {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 29;
    }
}
_a$7 = CharacterString;
(() => {
    typeStore.CharacterString = _a$7;
})();
CharacterString.NAME = "CharacterString";

var _a$6;
class UTCTime extends VisibleString {
    constructor({ value, valueDate, ...parameters } = {}) {
        super(parameters);
        this.year = 0;
        this.month = 0;
        this.day = 0;
        this.hour = 0;
        this.minute = 0;
        this.second = 0;
        if (value) {
            this.fromString(value);
            this.valueBlock.valueHexView = new Uint8Array(value.length);
            for (let i = 0; i < value.length; i++)
                this.valueBlock.valueHexView[i] = value.charCodeAt(i);
        }
        if (valueDate) {
            this.fromDate(valueDate);
            this.valueBlock.valueHexView = new Uint8Array(this.toBuffer());
        }
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 23;
    }
    fromBuffer(inputBuffer) {
        this.fromString(String.fromCharCode.apply(null, BufferSourceConverter.toUint8Array(inputBuffer)));
    }
    toBuffer() {
        const str = this.toString();
        const buffer = new ArrayBuffer(str.length);
        const view = new Uint8Array(buffer);
        for (let i = 0; i < str.length; i++)
            view[i] = str.charCodeAt(i);
        return buffer;
    }
    fromDate(inputDate) {
        this.year = inputDate.getUTCFullYear();
        this.month = inputDate.getUTCMonth() + 1;
        this.day = inputDate.getUTCDate();
        this.hour = inputDate.getUTCHours();
        this.minute = inputDate.getUTCMinutes();
        this.second = inputDate.getUTCSeconds();
    }
    toDate() {
        return new Date(Date.UTC(this.year, this.month - 1, this.day, this.hour, this.minute, this.second));
    }
    fromString(inputString) {
        const parser = /(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z/gi;
        const parserArray = parser.exec(inputString);
        if (parserArray === null) {
            this.error = "Wrong input string for conversion";
            return;
        }
        const year = parseInt(parserArray[1], 10);
        if (year >= 50)
            this.year = 1900 + year;
        else
            this.year = 2000 + year;
        this.month = parseInt(parserArray[2], 10);
        this.day = parseInt(parserArray[3], 10);
        this.hour = parseInt(parserArray[4], 10);
        this.minute = parseInt(parserArray[5], 10);
        this.second = parseInt(parserArray[6], 10);
    }
    toString(encoding = "iso") {
        if (encoding === "iso") {
            const outputArray = Array.from({ length: 7 });
            outputArray[0] = padNumber(this.year < 2000 ? this.year - 1900 : this.year - 2000, 2);
            outputArray[1] = padNumber(this.month, 2);
            outputArray[2] = padNumber(this.day, 2);
            outputArray[3] = padNumber(this.hour, 2);
            outputArray[4] = padNumber(this.minute, 2);
            outputArray[5] = padNumber(this.second, 2);
            outputArray[6] = "Z";
            return outputArray.join("");
        }
        return super.toString(encoding);
    }
    onAsciiEncoding() {
        return `${this.constructor.NAME} : ${this.toDate().toISOString()}`;
    }
    toJSON() {
        return {
            ...super.toJSON(),
            year: this.year,
            month: this.month,
            day: this.day,
            hour: this.hour,
            minute: this.minute,
            second: this.second
        };
    }
}
_a$6 = UTCTime;
(() => {
    typeStore.UTCTime = _a$6;
})();
UTCTime.NAME = "UTCTime";

var _a$5;
class GeneralizedTime extends UTCTime {
    constructor(parameters = {}) {
        var _b;
        super(parameters);
        (_b = this.millisecond) !== null && _b !== void 0 ? _b : (this.millisecond = 0);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 24;
    }
    fromDate(inputDate) {
        super.fromDate(inputDate);
        this.millisecond = inputDate.getUTCMilliseconds();
    }
    toDate() {
        const utcDate = Date.UTC(this.year, this.month - 1, this.day, this.hour, this.minute, this.second, this.millisecond);
        return new Date(utcDate);
    }
    fromString(inputString) {
        let isUTC = false;
        let timeString = "";
        let dateTimeString = "";
        let fractionPart = 0;
        let parser;
        let hourDifference = 0;
        let minuteDifference = 0;
        if (inputString[inputString.length - 1] === "Z") {
            timeString = inputString.substring(0, inputString.length - 1);
            isUTC = true;
        }
        else {
            const number = new Number(inputString[inputString.length - 1]);
            if (isNaN(number.valueOf()))
                throw new Error("Wrong input string for conversion");
            timeString = inputString;
        }
        if (isUTC) {
            if (timeString.indexOf("+") !== -1)
                throw new Error("Wrong input string for conversion");
            if (timeString.indexOf("-") !== -1)
                throw new Error("Wrong input string for conversion");
        }
        else {
            let multiplier = 1;
            let differencePosition = timeString.indexOf("+");
            let differenceString = "";
            if (differencePosition === -1) {
                differencePosition = timeString.indexOf("-");
                multiplier = -1;
            }
            if (differencePosition !== -1) {
                differenceString = timeString.substring(differencePosition + 1);
                timeString = timeString.substring(0, differencePosition);
                if (differenceString.length !== 2 && differenceString.length !== 4)
                    throw new Error("Wrong input string for conversion");
                let number = parseInt(differenceString.substring(0, 2), 10);
                if (isNaN(number.valueOf()))
                    throw new Error("Wrong input string for conversion");
                hourDifference = multiplier * number;
                if (differenceString.length === 4) {
                    number = parseInt(differenceString.substring(2, 4), 10);
                    if (isNaN(number.valueOf()))
                        throw new Error("Wrong input string for conversion");
                    minuteDifference = multiplier * number;
                }
            }
        }
        let fractionPointPosition = timeString.indexOf(".");
        if (fractionPointPosition === -1)
            fractionPointPosition = timeString.indexOf(",");
        if (fractionPointPosition !== -1) {
            const fractionPartCheck = new Number(`0${timeString.substring(fractionPointPosition)}`);
            if (isNaN(fractionPartCheck.valueOf()))
                throw new Error("Wrong input string for conversion");
            fractionPart = fractionPartCheck.valueOf();
            dateTimeString = timeString.substring(0, fractionPointPosition);
        }
        else
            dateTimeString = timeString;
        switch (true) {
            case dateTimeString.length === 8:
                parser = /(\d{4})(\d{2})(\d{2})/gi;
                if (fractionPointPosition !== -1)
                    throw new Error("Wrong input string for conversion");
                break;
            case dateTimeString.length === 10:
                parser = /(\d{4})(\d{2})(\d{2})(\d{2})/gi;
                if (fractionPointPosition !== -1) {
                    let fractionResult = 60 * fractionPart;
                    this.minute = Math.floor(fractionResult);
                    fractionResult = 60 * (fractionResult - this.minute);
                    this.second = Math.floor(fractionResult);
                    fractionResult = 1000 * (fractionResult - this.second);
                    this.millisecond = Math.floor(fractionResult);
                }
                break;
            case dateTimeString.length === 12:
                parser = /(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})/gi;
                if (fractionPointPosition !== -1) {
                    let fractionResult = 60 * fractionPart;
                    this.second = Math.floor(fractionResult);
                    fractionResult = 1000 * (fractionResult - this.second);
                    this.millisecond = Math.floor(fractionResult);
                }
                break;
            case dateTimeString.length === 14:
                parser = /(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/gi;
                if (fractionPointPosition !== -1) {
                    const fractionResult = 1000 * fractionPart;
                    this.millisecond = Math.floor(fractionResult);
                }
                break;
            default:
                throw new Error("Wrong input string for conversion");
        }
        const parserArray = parser.exec(dateTimeString);
        if (parserArray === null)
            throw new Error("Wrong input string for conversion");
        for (let j = 1; j < parserArray.length; j++) {
            switch (j) {
                case 1:
                    this.year = parseInt(parserArray[j], 10);
                    break;
                case 2:
                    this.month = parseInt(parserArray[j], 10);
                    break;
                case 3:
                    this.day = parseInt(parserArray[j], 10);
                    break;
                case 4:
                    this.hour = parseInt(parserArray[j], 10) + hourDifference;
                    break;
                case 5:
                    this.minute = parseInt(parserArray[j], 10) + minuteDifference;
                    break;
                case 6:
                    this.second = parseInt(parserArray[j], 10);
                    break;
                default:
                    throw new Error("Wrong input string for conversion");
            }
        }
        if (isUTC === false) {
            const tempDate = new Date(this.year, this.month, this.day, this.hour, this.minute, this.second, this.millisecond);
            this.year = tempDate.getUTCFullYear();
            this.month = tempDate.getUTCMonth();
            this.day = tempDate.getUTCDay();
            this.hour = tempDate.getUTCHours();
            this.minute = tempDate.getUTCMinutes();
            this.second = tempDate.getUTCSeconds();
            this.millisecond = tempDate.getUTCMilliseconds();
        }
    }
    toString(encoding = "iso") {
        if (encoding === "iso") {
            const outputArray = [];
            outputArray.push(padNumber(this.year, 4));
            outputArray.push(padNumber(this.month, 2));
            outputArray.push(padNumber(this.day, 2));
            outputArray.push(padNumber(this.hour, 2));
            outputArray.push(padNumber(this.minute, 2));
            outputArray.push(padNumber(this.second, 2));
            if (this.millisecond !== 0) {
                outputArray.push(".");
                outputArray.push(padNumber(this.millisecond, 3).replace(/0+$/, ""));
            }
            outputArray.push("Z");
            return outputArray.join("");
        }
        return super.toString(encoding);
    }
    toJSON() {
        return {
            ...super.toJSON(),
            millisecond: this.millisecond
        };
    }
}
_a$5 = GeneralizedTime;
(() => {
    typeStore.GeneralizedTime = _a$5;
})();
GeneralizedTime.NAME = "GeneralizedTime";

var _a$4;
class DATE extends Utf8String {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 31;
    }
}
_a$4 = DATE;
(() => {
    typeStore.DATE = _a$4;
})();
DATE.NAME = "DATE";

var _a$3;
class TimeOfDay extends Utf8String {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 32;
    }
}
_a$3 = TimeOfDay;
(() => {
    typeStore.TimeOfDay = _a$3;
})();
TimeOfDay.NAME = "TimeOfDay";

var _a$2;
class DateTime extends Utf8String {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 33;
    }
}
_a$2 = DateTime;
(() => {
    typeStore.DateTime = _a$2;
})();
DateTime.NAME = "DateTime";

var _a$1;
class Duration extends Utf8String {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 34;
    }
}
_a$1 = Duration;
(() => {
    typeStore.Duration = _a$1;
})();
Duration.NAME = "Duration";

var _a;
class TIME extends Utf8String {
    constructor(parameters = {}) {
        super(parameters);
        this.idBlock.tagClass = 1;
        this.idBlock.tagNumber = 14;
    }
}
_a = TIME;
(() => {
    typeStore.TIME = _a;
})();
TIME.NAME = "TIME";

class Any {
    constructor({ name = EMPTY_STRING, optional = false } = {}) {
        this.name = name;
        this.optional = optional;
    }
}

class Choice extends Any {
    constructor({ value = [], ...parameters } = {}) {
        super(parameters);
        this.value = value;
    }
}

class Repeated extends Any {
    constructor({ value = new Any(), local = false, ...parameters } = {}) {
        super(parameters);
        this.value = value;
        this.local = local;
    }
}

class RawData {
    get data() {
        return this.dataView.slice().buffer;
    }
    set data(value) {
        this.dataView = BufferSourceConverter.toUint8Array(value);
    }
    constructor({ data = EMPTY_VIEW } = {}) {
        this.dataView = BufferSourceConverter.toUint8Array(data);
    }
    fromBER(inputBuffer, inputOffset, inputLength) {
        const endLength = inputOffset + inputLength;
        this.dataView = BufferSourceConverter.toUint8Array(inputBuffer).subarray(inputOffset, endLength);
        return endLength;
    }
    toBER(_sizeOnly) {
        return this.dataView.slice().buffer;
    }
}

function compareSchema(root, inputData, inputSchema) {
    if (inputSchema instanceof Choice) {
        for (const element of inputSchema.value) {
            const result = compareSchema(root, inputData, element);
            if (result.verified) {
                return {
                    verified: true,
                    result: root
                };
            }
        }
        {
            const _result = {
                verified: false,
                result: { error: "Wrong values for Choice type" }
            };
            if (inputSchema.hasOwnProperty(NAME))
                _result.name = inputSchema.name;
            return _result;
        }
    }
    if (inputSchema instanceof Any) {
        if (inputSchema.hasOwnProperty(NAME))
            root[inputSchema.name] = inputData;
        return {
            verified: true,
            result: root
        };
    }
    if (root instanceof Object === false) {
        return {
            verified: false,
            result: { error: "Wrong root object" }
        };
    }
    if (inputData instanceof Object === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 data" }
        };
    }
    if (inputSchema instanceof Object === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    if (ID_BLOCK in inputSchema === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    if (FROM_BER in inputSchema.idBlock === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    if (TO_BER in inputSchema.idBlock === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    const encodedId = inputSchema.idBlock.toBER(false);
    if (encodedId.byteLength === 0) {
        return {
            verified: false,
            result: { error: "Error encoding idBlock for ASN.1 schema" }
        };
    }
    const decodedOffset = inputSchema.idBlock.fromBER(encodedId, 0, encodedId.byteLength);
    if (decodedOffset === -1) {
        return {
            verified: false,
            result: { error: "Error decoding idBlock for ASN.1 schema" }
        };
    }
    if (inputSchema.idBlock.hasOwnProperty(TAG_CLASS) === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    if (inputSchema.idBlock.tagClass !== inputData.idBlock.tagClass) {
        return {
            verified: false,
            result: root
        };
    }
    if (inputSchema.idBlock.hasOwnProperty(TAG_NUMBER) === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    if (inputSchema.idBlock.tagNumber !== inputData.idBlock.tagNumber) {
        return {
            verified: false,
            result: root
        };
    }
    if (inputSchema.idBlock.hasOwnProperty(IS_CONSTRUCTED) === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    if (inputSchema.idBlock.isConstructed !== inputData.idBlock.isConstructed) {
        return {
            verified: false,
            result: root
        };
    }
    if (!(IS_HEX_ONLY in inputSchema.idBlock)) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema" }
        };
    }
    if (inputSchema.idBlock.isHexOnly !== inputData.idBlock.isHexOnly) {
        return {
            verified: false,
            result: root
        };
    }
    if (inputSchema.idBlock.isHexOnly) {
        if (VALUE_HEX_VIEW in inputSchema.idBlock === false) {
            return {
                verified: false,
                result: { error: "Wrong ASN.1 schema" }
            };
        }
        const schemaView = inputSchema.idBlock.valueHexView;
        const asn1View = inputData.idBlock.valueHexView;
        if (schemaView.length !== asn1View.length) {
            return {
                verified: false,
                result: root
            };
        }
        for (let i = 0; i < schemaView.length; i++) {
            if (schemaView[i] !== asn1View[1]) {
                return {
                    verified: false,
                    result: root
                };
            }
        }
    }
    if (inputSchema.name) {
        inputSchema.name = inputSchema.name.replace(/^\s+|\s+$/g, EMPTY_STRING);
        if (inputSchema.name)
            root[inputSchema.name] = inputData;
    }
    if (inputSchema instanceof typeStore.Constructed) {
        let admission = 0;
        let result = {
            verified: false,
            result: { error: "Unknown error" }
        };
        let maxLength = inputSchema.valueBlock.value.length;
        if (maxLength > 0) {
            if (inputSchema.valueBlock.value[0] instanceof Repeated) {
                maxLength = inputData.valueBlock.value.length;
            }
        }
        if (maxLength === 0) {
            return {
                verified: true,
                result: root
            };
        }
        if (inputData.valueBlock.value.length === 0 && inputSchema.valueBlock.value.length !== 0) {
            let _optional = true;
            for (let i = 0; i < inputSchema.valueBlock.value.length; i++)
                _optional = _optional && (inputSchema.valueBlock.value[i].optional || false);
            if (_optional) {
                return {
                    verified: true,
                    result: root
                };
            }
            if (inputSchema.name) {
                inputSchema.name = inputSchema.name.replace(/^\s+|\s+$/g, EMPTY_STRING);
                if (inputSchema.name)
                    delete root[inputSchema.name];
            }
            root.error = "Inconsistent object length";
            return {
                verified: false,
                result: root
            };
        }
        for (let i = 0; i < maxLength; i++) {
            if (i - admission >= inputData.valueBlock.value.length) {
                if (inputSchema.valueBlock.value[i].optional === false) {
                    const _result = {
                        verified: false,
                        result: root
                    };
                    root.error = "Inconsistent length between ASN.1 data and schema";
                    if (inputSchema.name) {
                        inputSchema.name = inputSchema.name.replace(/^\s+|\s+$/g, EMPTY_STRING);
                        if (inputSchema.name) {
                            delete root[inputSchema.name];
                            _result.name = inputSchema.name;
                        }
                    }
                    return _result;
                }
            }
            else {
                if (inputSchema.valueBlock.value[0] instanceof Repeated) {
                    result = compareSchema(root, inputData.valueBlock.value[i], inputSchema.valueBlock.value[0].value);
                    if (result.verified === false) {
                        if (inputSchema.valueBlock.value[0].optional)
                            admission++;
                        else {
                            if (inputSchema.name) {
                                inputSchema.name = inputSchema.name.replace(/^\s+|\s+$/g, EMPTY_STRING);
                                if (inputSchema.name)
                                    delete root[inputSchema.name];
                            }
                            return result;
                        }
                    }
                    if (NAME in inputSchema.valueBlock.value[0] && inputSchema.valueBlock.value[0].name.length > 0) {
                        let arrayRoot = {};
                        if (LOCAL in inputSchema.valueBlock.value[0] && inputSchema.valueBlock.value[0].local)
                            arrayRoot = inputData;
                        else
                            arrayRoot = root;
                        if (typeof arrayRoot[inputSchema.valueBlock.value[0].name] === "undefined")
                            arrayRoot[inputSchema.valueBlock.value[0].name] = [];
                        arrayRoot[inputSchema.valueBlock.value[0].name].push(inputData.valueBlock.value[i]);
                    }
                }
                else {
                    result = compareSchema(root, inputData.valueBlock.value[i - admission], inputSchema.valueBlock.value[i]);
                    if (result.verified === false) {
                        if (inputSchema.valueBlock.value[i].optional)
                            admission++;
                        else {
                            if (inputSchema.name) {
                                inputSchema.name = inputSchema.name.replace(/^\s+|\s+$/g, EMPTY_STRING);
                                if (inputSchema.name)
                                    delete root[inputSchema.name];
                            }
                            return result;
                        }
                    }
                }
            }
        }
        if (result.verified === false) {
            const _result = {
                verified: false,
                result: root
            };
            if (inputSchema.name) {
                inputSchema.name = inputSchema.name.replace(/^\s+|\s+$/g, EMPTY_STRING);
                if (inputSchema.name) {
                    delete root[inputSchema.name];
                    _result.name = inputSchema.name;
                }
            }
            return _result;
        }
        return {
            verified: true,
            result: root
        };
    }
    if (inputSchema.primitiveSchema && VALUE_HEX_VIEW in inputData.valueBlock) {
        const asn1 = localFromBER(inputData.valueBlock.valueHexView);
        if (asn1.offset === -1) {
            const _result = {
                verified: false,
                result: asn1.result
            };
            if (inputSchema.name) {
                inputSchema.name = inputSchema.name.replace(/^\s+|\s+$/g, EMPTY_STRING);
                if (inputSchema.name) {
                    delete root[inputSchema.name];
                    _result.name = inputSchema.name;
                }
            }
            return _result;
        }
        return compareSchema(root, asn1.result, inputSchema.primitiveSchema);
    }
    return {
        verified: true,
        result: root
    };
}
function verifySchema(inputBuffer, inputSchema) {
    if (inputSchema instanceof Object === false) {
        return {
            verified: false,
            result: { error: "Wrong ASN.1 schema type" }
        };
    }
    const asn1 = localFromBER(BufferSourceConverter.toUint8Array(inputBuffer));
    if (asn1.offset === -1) {
        return {
            verified: false,
            result: asn1.result
        };
    }
    return compareSchema(asn1.result, asn1.result, inputSchema);
}

registerBuiltinEncoder({ BitString: BitString$1, Integer, OctetString: OctetString$1, Primitive, Constructed, Sequence, Set: Set$1 }, {
    BaseBlock,
    ViewWriter,
    LocalIdentificationBlock,
    LocalLengthBlock,
    LocalIntegerValueBlock,
    LocalOctetStringValueBlock,
    LocalConstructedValueBlock,
    LocalBitStringValueBlock,
    LocalPrimitiveValueBlock,
    originalBaseBlockToBER: ORIGINAL_BASE_BLOCK_TO_BER,
    originalWriterWrite: ORIGINAL_VIEW_WRITER_WRITE,
    originalWriterFinal: ORIGINAL_VIEW_WRITER_FINAL,
    originalIdentificationToBER: ORIGINAL_LOCAL_IDENTIFICATION_TO_BER,
    originalLengthToBER: ORIGINAL_LOCAL_LENGTH_TO_BER,
    originalIntegerToBER: ORIGINAL_LOCAL_INTEGER_TO_BER,
    originalOctetStringToBER: ORIGINAL_LOCAL_OCTET_STRING_TO_BER,
    originalBitStringToBER: ORIGINAL_LOCAL_BIT_STRING_TO_BER,
    originalConstructedToBER: ORIGINAL_LOCAL_CONSTRUCTED_TO_BER,
    originalPrimitiveToBER: ORIGINAL_LOCAL_PRIMITIVE_TO_BER
});
registerFastParser({ Integer, Null, Sequence });

var asn1js = /*#__PURE__*/Object.freeze({
    __proto__: null,
    Any: Any,
    BaseBlock: BaseBlock,
    BaseStringBlock: BaseStringBlock,
    BitString: BitString$1,
    BmpString: BmpString,
    Boolean: Boolean$1,
    CharacterString: CharacterString,
    Choice: Choice,
    Constructed: Constructed,
    DATE: DATE,
    DEFAULT_MAX_CONTENT_LENGTH: DEFAULT_MAX_CONTENT_LENGTH,
    DEFAULT_MAX_DEPTH: DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_NODES: DEFAULT_MAX_NODES,
    DateTime: DateTime,
    Duration: Duration,
    EndOfContent: EndOfContent,
    Enumerated: Enumerated,
    GeneralString: GeneralString,
    GeneralizedTime: GeneralizedTime,
    GraphicString: GraphicString,
    HexBlock: HexBlock,
    IA5String: IA5String,
    Integer: Integer,
    Null: Null,
    NumericString: NumericString,
    ObjectIdentifier: ObjectIdentifier,
    OctetString: OctetString$1,
    Primitive: Primitive,
    PrintableString: PrintableString,
    RawData: RawData,
    RelativeObjectIdentifier: RelativeObjectIdentifier,
    Repeated: Repeated,
    Sequence: Sequence,
    Set: Set$1,
    TIME: TIME,
    TeletexString: TeletexString,
    TimeOfDay: TimeOfDay,
    UTCTime: UTCTime,
    UniversalString: UniversalString,
    Utf8String: Utf8String,
    ValueBlock: ValueBlock,
    VideotexString: VideotexString,
    ViewWriter: ViewWriter,
    VisibleString: VisibleString,
    compareSchema: compareSchema,
    fromBER: fromBER,
    verifySchema: verifySchema
});

const ARRAY_BUFFER_TAG = "[object ArrayBuffer]";
const SHARED_ARRAY_BUFFER_TAG = "[object SharedArrayBuffer]";
function tagOf(value) {
    return Object.prototype.toString.call(value);
}
function isArrayBufferViewLike(value) {
    if (ArrayBuffer.isView(value)) {
        return true;
    }
    if (!value || typeof value !== "object") {
        return false;
    }
    const view = value;
    return typeof view.byteOffset === "number"
        && typeof view.byteLength === "number"
        && isArrayBufferLike(view.buffer);
}
function isArrayBuffer(value) {
    return tagOf(value) === ARRAY_BUFFER_TAG;
}
function isSharedArrayBuffer(value) {
    return typeof SharedArrayBuffer !== "undefined" && tagOf(value) === SHARED_ARRAY_BUFFER_TAG;
}
function isArrayBufferLike(value) {
    return isArrayBuffer(value) || isSharedArrayBuffer(value);
}
function isArrayBufferView(value) {
    return isArrayBufferViewLike(value);
}
function isBufferSource(value) {
    return isArrayBufferLike(value) || isArrayBufferView(value);
}
function assertBufferSource(value) {
    if (!isBufferSource(value)) {
        throw new TypeError("Expected ArrayBuffer, SharedArrayBuffer, or ArrayBufferView");
    }
}
function toUint8Array(data) {
    assertBufferSource(data);
    if (isArrayBufferLike(data)) {
        return new Uint8Array(data);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
function toArrayBuffer(data) {
    assertBufferSource(data);
    if (isArrayBuffer(data)) {
        return data;
    }
    const buffer = new ArrayBuffer(data.byteLength);
    new Uint8Array(buffer).set(toUint8Array(data));
    return buffer;
}

function equal(a, b, options = {}) {
    const left = toUint8Array(a);
    const right = toUint8Array(b);
    if (!options.constantTime && left.byteLength !== right.byteLength) {
        return false;
    }
    const length = Math.max(left.byteLength, right.byteLength);
    let diff = left.byteLength ^ right.byteLength;
    for (let i = 0; i < length; i++) {
        diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
    }
    return diff === 0;
}

function encode$6(data) {
    const bytes = toUint8Array(data);
    let result = "";
    for (const byte of bytes) {
        result += String.fromCharCode(byte);
    }
    return result;
}
function decode$6(text) {
    const result = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
        result[i] = text.charCodeAt(i) & 0xff;
    }
    return result;
}
function is$3(text) {
    return typeof text === "string";
}

const HEX_CHARACTER_REGEX = /^[0-9a-f]$/i;
const COMMON_SEPARATORS = [" ", "\t", "\n", "\r", ":", "-", "."];
function resolveSeparators(options) {
    if (options.separators === "none") {
        return [];
    }
    if (!options.separators || options.separators === "common") {
        return COMMON_SEPARATORS;
    }
    return options.separators;
}
function validateSeparator(separator) {
    if (!separator) {
        throw new TypeError("Hex separators must be non-empty strings");
    }
}
function matchSeparator(text, index, separators) {
    for (const separator of separators) {
        if (text.startsWith(separator, index)) {
            return separator;
        }
    }
    return undefined;
}
function detectCase(text) {
    const hasUpper = /[A-F]/.test(text);
    const hasLower = /[a-f]/.test(text);
    return hasUpper && !hasLower ? "upper" : "lower";
}
function detectLineSeparator(text) {
    const match = /\r\n|\n/.exec(text);
    if (!match) {
        return undefined;
    }
    return match[0] === "\r\n" ? "\r\n" : "\n";
}
function compactForDetection(text) {
    return text.replace(/[^0-9a-f]/gi, "");
}
function detectGroup(text) {
    const segments = text.match(/[0-9A-Fa-f]+|[^0-9A-Fa-f]+/g) ?? [];
    if (segments.length < 3) {
        return undefined;
    }
    const hexSegments = segments.filter((_, index) => index % 2 === 0);
    const separators = segments.filter((_, index) => index % 2 === 1);
    const separator = separators[0];
    if (!separator || separators.some((item) => item !== separator)) {
        return undefined;
    }
    if (hexSegments.some((segment) => segment.length === 0 || segment.length % 2 !== 0)) {
        return undefined;
    }
    const firstLength = hexSegments[0]?.length ?? 0;
    if (!firstLength) {
        return undefined;
    }
    if (hexSegments.slice(0, -1).some((segment) => segment.length !== firstLength)) {
        return undefined;
    }
    if ((hexSegments[hexSegments.length - 1]?.length ?? 0) > firstLength) {
        return undefined;
    }
    return {
        size: firstLength / 2,
        separator,
    };
}
function detectFormat(text) {
    const trimmed = text.trim();
    const prefix = /^0x/i.test(trimmed) ? "0x" : "";
    const body = prefix ? trimmed.slice(2) : trimmed;
    const lineSeparator = detectLineSeparator(body);
    const lines = body.split(/\r\n|\n/).filter((line) => line.length > 0);
    const sampleLine = lines[0]?.trim() ?? "";
    const group = detectGroup(sampleLine);
    const format = {
        case: detectCase(trimmed),
        prefix,
    };
    if (group) {
        format.group = group;
    }
    if (lineSeparator && lines.length > 1) {
        const firstLineBytes = compactForDetection(lines[0] ?? "").length / 2;
        if (firstLineBytes > 0 && lines.slice(0, -1).every((line) => compactForDetection(line).length / 2 === firstLineBytes)) {
            format.line = {
                bytesPerLine: firstLineBytes,
                separator: lineSeparator,
            };
        }
    }
    return format;
}
function normalizeText(text, options) {
    const allowPrefix = options.allowPrefix ?? true;
    const separators = [...resolveSeparators(options)].sort((left, right) => right.length - left.length);
    for (const separator of separators) {
        validateSeparator(separator);
    }
    let working = text.trim();
    if (/^0x/i.test(working)) {
        if (!allowPrefix) {
            throw new TypeError("Hexadecimal text must not include a 0x prefix");
        }
        working = working.slice(2);
    }
    let normalized = "";
    let lastTokenWasSeparator = false;
    for (let index = 0; index < working.length;) {
        const character = working[index] ?? "";
        if (HEX_CHARACTER_REGEX.test(character)) {
            normalized += character;
            lastTokenWasSeparator = false;
            index += 1;
            continue;
        }
        const separator = matchSeparator(working, index, separators);
        if (!separator) {
            throw new TypeError("Input is not valid hexadecimal text");
        }
        if (options.strict && (lastTokenWasSeparator || normalized.length === 0)) {
            throw new TypeError("Hexadecimal text contains misplaced separators");
        }
        lastTokenWasSeparator = true;
        index += separator.length;
    }
    if (options.strict && lastTokenWasSeparator && normalized.length > 0) {
        throw new TypeError("Hexadecimal text must not end with a separator");
    }
    if (normalized.length % 2 !== 0) {
        if (!options.allowOddLength) {
            throw new TypeError("Hexadecimal text must contain an even number of characters");
        }
        normalized = `0${normalized}`;
    }
    return normalized.toLowerCase();
}
function groupPairs(pairs, group) {
    if (!group) {
        return pairs.join("");
    }
    if (!Number.isInteger(group.size) || group.size < 1) {
        throw new RangeError("Hex group size must be a positive integer");
    }
    const chunks = [];
    for (let index = 0; index < pairs.length; index += group.size) {
        chunks.push(pairs.slice(index, index + group.size).join(""));
    }
    return chunks.join(group.separator);
}
function normalize$2(text, options = {}) {
    return normalizeText(text, options);
}
function is$2(text, options = {}) {
    if (typeof text !== "string") {
        return false;
    }
    try {
        normalize$2(text, options);
        return true;
    }
    catch {
        return false;
    }
}
function encode$5(data, options = {}) {
    const bytes = toUint8Array(data);
    const casing = options.case ?? "lower";
    const pairs = Array.from(bytes, (byte) => {
        const text = byte.toString(16).padStart(2, "0");
        return casing === "upper" ? text.toUpperCase() : text;
    });
    let body = "";
    if (options.line) {
        const bytesPerLine = options.line.bytesPerLine;
        if (!Number.isInteger(bytesPerLine) || bytesPerLine < 1) {
            throw new RangeError("Hex bytesPerLine must be a positive integer");
        }
        const separator = options.line.separator ?? "\n";
        const lines = [];
        for (let index = 0; index < pairs.length; index += bytesPerLine) {
            lines.push(groupPairs(pairs.slice(index, index + bytesPerLine), options.group));
        }
        body = lines.join(separator);
    }
    else {
        body = groupPairs(pairs, options.group);
    }
    return `${options.prefix ?? ""}${body}`;
}
function decode$5(text, options = {}) {
    const normalized = normalize$2(text, options);
    const result = new Uint8Array(normalized.length / 2);
    for (let i = 0; i < normalized.length; i += 2) {
        result[i / 2] = Number.parseInt(normalized.slice(i, i + 2), 16);
    }
    return result;
}
function parse$1(text, options = {}) {
    const normalized = normalize$2(text, options);
    return {
        bytes: decode$5(normalized),
        format: detectFormat(text),
        normalized,
    };
}
function format$1(data, value) {
    return encode$5(data, value);
}

function encode$4(text) {
    return new TextEncoder().encode(text);
}
function decode$4(data) {
    return new TextDecoder("utf-8", { fatal: false }).decode(toUint8Array(data));
}

function encode$3(text, options = {}) {
    const result = new ArrayBuffer(text.length * 2);
    const view = new DataView(result);
    for (let i = 0; i < text.length; i++) {
        view.setUint16(i * 2, text.charCodeAt(i), options.littleEndian ?? false);
    }
    return new Uint8Array(result);
}
function decode$3(data, options = {}) {
    const buffer = toArrayBuffer(data);
    const view = new DataView(buffer);
    let result = "";
    for (let i = 0; i < buffer.byteLength; i += 2) {
        result += String.fromCharCode(view.getUint16(i, options.littleEndian ?? false));
    }
    return result;
}

const BASE64_REGEX = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
function nodeBuffer() {
    return globalThis.Buffer;
}
function normalize$1(text) {
    return text.replace(/[\n\r\t ]/g, "");
}
function pad(text) {
    const remainder = text.length % 4;
    return remainder ? text + "=".repeat(4 - remainder) : text;
}
function is$1(text) {
    if (typeof text !== "string") {
        return false;
    }
    const normalized = normalize$1(text);
    return normalized === "" || BASE64_REGEX.test(normalized);
}
function encode$2(data, _options) {
    const bytes = toUint8Array(data);
    const buffer = nodeBuffer();
    if (buffer) {
        return buffer.from(bytes).toString("base64");
    }
    return btoa(encode$6(bytes));
}
function decode$2(text, _options) {
    const normalized = normalize$1(text);
    if (!is$1(normalized)) {
        throw new TypeError("Input is not valid Base64 text");
    }
    const buffer = nodeBuffer();
    if (buffer) {
        return new Uint8Array(buffer.from(normalized, "base64"));
    }
    return decode$6(atob(normalized));
}
const base64 = { encode: encode$2, decode: decode$2, is: is$1, normalize: normalize$1, pad };

const BASE64URL_REGEX = /^[A-Za-z0-9_-]*$/;
function normalize(text) {
    return text.replace(/[\n\r\t ]/g, "");
}
function is(text) {
    return typeof text === "string" && BASE64URL_REGEX.test(normalize(text));
}
function encode$1(data, _options) {
    return base64.encode(data).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/g, "");
}
function decode$1(text, _options) {
    const normalized = normalize(text);
    if (!is(normalized)) {
        throw new TypeError("Input is not valid Base64Url text");
    }
    return base64.decode(base64.pad(normalized.replace(/-/g, "+").replace(/_/g, "/")));
}

const LABEL_REGEX = /^[A-Z0-9][A-Z0-9 ._-]*[A-Z0-9]$/i;
const PEM_BLOCK_REGEX = /-----BEGIN ([^-]+)-----([\s\S]*?)-----END \1-----/g;
function assertLabel(label) {
    if (!LABEL_REGEX.test(label)) {
        throw new TypeError(`Invalid PEM label '${label}'`);
    }
}
function wrap(text, lineLength) {
    const result = [];
    for (let i = 0; i < text.length; i += lineLength) {
        result.push(text.slice(i, i + lineLength));
    }
    return result;
}
function parseBody(body) {
    const normalized = body.trim().replace(/\r\n/g, "\n");
    const lines = normalized.split("\n").map((line) => line.trim()).filter(Boolean);
    const headers = {};
    let index = 0;
    for (; index < lines.length; index++) {
        const line = lines[index];
        const separator = line.indexOf(":");
        if (separator <= 0) {
            break;
        }
        headers[line.slice(0, separator).trim()] = line.slice(separator + 1).trim();
    }
    return {
        headers: Object.keys(headers).length ? headers : undefined,
        base64Lines: lines.slice(index),
        base64Text: lines.slice(index).join(""),
    };
}
function detectNewline(text) {
    return /\r\n/.test(text) ? "\r\n" : "\n";
}
function collectBlocks(text, options = {}) {
    const blocks = [];
    const requestedLabel = options.label;
    let match;
    PEM_BLOCK_REGEX.lastIndex = 0;
    while ((match = PEM_BLOCK_REGEX.exec(text))) {
        const label = match[1].trim();
        if (requestedLabel && label !== requestedLabel) {
            continue;
        }
        assertLabel(label);
        const parsed = parseBody(match[2]);
        blocks.push({
            label,
            data: base64.decode(parsed.base64Text),
            headers: parsed.headers,
            lineLength: parsed.base64Lines[0]?.length ?? 64,
            newline: detectNewline(match[0]),
        });
    }
    if (options.strict && blocks.length === 0) {
        throw new TypeError(requestedLabel
            ? `No PEM block with label '${requestedLabel}' was found`
            : "No PEM blocks were found");
    }
    return blocks;
}
function encode(label, data, options = {}) {
    assertLabel(label);
    const lineLength = options.lineLength ?? 64;
    if (!Number.isInteger(lineLength) || lineLength < 1) {
        throw new RangeError("PEM lineLength must be a positive integer");
    }
    const newline = options.newline ?? "\n";
    const lines = [`-----BEGIN ${label}-----`];
    if (options.headers) {
        for (const [name, value] of Object.entries(options.headers)) {
            lines.push(`${name}: ${value}`);
        }
        lines.push("");
    }
    lines.push(...wrap(base64.encode(data), lineLength));
    lines.push(`-----END ${label}-----`);
    return `${lines.join(newline)}${newline}`;
}
function decode(text, options = {}) {
    return collectBlocks(text, options).map(({ lineLength: _lineLength, newline: _newline, ...block }) => block);
}
function decodeFirst(text, label) {
    const [block] = decode(text, { label, strict: true });
    return block.data;
}
function parse(text, options = {}) {
    const [block] = collectBlocks(text, { ...options, strict: true });
    const format = {
        label: block.label,
        headers: block.headers,
        lineLength: block.lineLength,
        newline: block.newline,
    };
    return {
        bytes: block.data,
        format,
        normalized: encode(block.label, block.data, format),
    };
}
function format(data, value) {
    return encode(value.label, data, value);
}
const pemConverter = {
    name: "pem",
    encode: (data, options) => {
        if (!options?.label) {
            throw new TypeError("PEM label is required");
        }
        return encode(options.label, data, options);
    },
    decode: (text, options) => decodeFirst(text, options?.label),
    format,
    is: (text) => typeof text === "string" && /-----BEGIN [^-]+-----/.test(text),
    parse,
};

function keyOf(name) {
    return name.trim().toLowerCase();
}
function toError(error) {
    return error instanceof Error ? error : new Error(String(error));
}
function removeConverter(converters, primaryNames, converter) {
    for (const alias of [converter.name, ...(converter.aliases ?? [])]) {
        converters.delete(keyOf(alias));
    }
    primaryNames.delete(keyOf(converter.name));
}
function requireCapability(converter, name, capability) {
    const method = converter[capability];
    if (typeof method !== "function") {
        throw new Error(`Converter '${name}' does not support ${capability}()`);
    }
    return method;
}
function detectConfidence(name, text, converter) {
    const normalizedName = keyOf(converter.name || name);
    const trimmed = text.trim();
    if (!trimmed) {
        return 0;
    }
    let accepted = false;
    if (converter.is) {
        accepted = converter.is(text);
    }
    let decodable = false;
    try {
        converter.decode(text);
        decodable = true;
    }
    catch {
        decodable = false;
    }
    if (!accepted && !decodable) {
        return 0;
    }
    switch (normalizedName) {
        case "pem":
            return /-----BEGIN [^-]+-----/.test(text) ? 1 : 0;
        case "hex": {
            const compact = trimmed.replace(/^0x/i, "").replace(/[\s:.-]/g, "");
            if (!compact || /[^0-9a-f]/i.test(compact) || compact.length % 2 !== 0) {
                return 0;
            }
            if (/^0x/i.test(trimmed) || /[:\s.-]/.test(trimmed)) {
                return 0.95;
            }
            if (/[a-f]/.test(trimmed) || /[A-F]/.test(trimmed)) {
                return 0.8;
            }
            return 0.45;
        }
        case "base64url":
            if (/[-_]/.test(trimmed)) {
                return 0.95;
            }
            if (/=/.test(trimmed)) {
                return 0.1;
            }
            return 0.6;
        case "base64":
            if (/[+/=]/.test(trimmed)) {
                return 0.9;
            }
            return 0.55;
        case "binary":
        case "utf8":
        case "utf16be":
        case "utf16le":
            return 0;
        default:
            return accepted && decodable ? 0.75 : 0.5;
    }
}
function createConverterRegistry(initialConverters = []) {
    const converters = new Map();
    const primaryNames = new Set();
    const api = {
        register(converter, options = {}) {
            if (!converter.name || !keyOf(converter.name)) {
                throw new TypeError("Converter name is required");
            }
            const names = [...new Set([converter.name, ...(converter.aliases ?? [])].map(keyOf))];
            const conflicts = new Set();
            for (const name of names) {
                const existing = converters.get(name);
                if (!existing) {
                    continue;
                }
                if (!options.override) {
                    throw new Error(`Converter '${name}' is already registered`);
                }
                conflicts.add(existing);
            }
            for (const conflicting of conflicts) {
                removeConverter(converters, primaryNames, conflicting);
            }
            for (const name of names) {
                converters.set(name, converter);
            }
            primaryNames.add(keyOf(converter.name));
            return this;
        },
        unregister(name) {
            const converter = converters.get(keyOf(name));
            if (!converter) {
                return false;
            }
            removeConverter(converters, primaryNames, converter);
            return true;
        },
        has(name) {
            return converters.has(keyOf(name));
        },
        get(name) {
            const converter = converters.get(keyOf(name));
            if (!converter) {
                throw new Error(`Converter '${name}' is not registered`);
            }
            return converter;
        },
        list() {
            return [...primaryNames].map((name) => this.get(name));
        },
        encode(name, data, options) {
            return this.get(name).encode(data, options);
        },
        decode(name, text, options) {
            return this.get(name).decode(text, options);
        },
        tryDecode(name, text, options) {
            try {
                return { ok: true, bytes: this.decode(name, text, options) };
            }
            catch (error) {
                return { ok: false, error: toError(error) };
            }
        },
        normalize(name, text, options) {
            const converter = this.get(name);
            return requireCapability(converter, name, "normalize").call(converter, text, options);
        },
        parse(name, text, options) {
            const converter = this.get(name);
            return requireCapability(converter, name, "parse").call(converter, text, options);
        },
        format(name, data, format) {
            const converter = this.get(name);
            return requireCapability(converter, name, "format").call(converter, data, format);
        },
        transcode(text, options) {
            const bytes = this.decode(options.from, text, options.fromOptions);
            return this.encode(options.to, bytes, options.toOptions);
        },
        detect(text, options = {}) {
            const formatNames = options.formats?.length
                ? options.formats.map((name) => String(name))
                : this.list()
                    .map((converter) => converter.name)
                    .filter((name) => !["binary", "utf8", "utf16be", "utf16le"].includes(keyOf(name)));
            const detections = new Map();
            for (const requestedName of formatNames) {
                const converter = this.get(requestedName);
                const confidence = detectConfidence(requestedName, text, converter);
                if (confidence <= 0) {
                    continue;
                }
                const format = converter.name;
                const current = detections.get(format);
                if (!current || confidence > current.confidence) {
                    detections.set(format, { format, confidence });
                }
            }
            return [...detections.values()].sort((left, right) => right.confidence - left.confidence);
        },
    };
    for (const converter of initialConverters) {
        api.register(converter);
    }
    return api;
}

const binaryConverter = {
    name: "binary",
    aliases: ["latin1"],
    encode: encode$6,
    decode: decode$6,
    is: is$3,
};
const hexConverter = {
    name: "hex",
    encode: encode$5,
    decode: decode$5,
    format: format$1,
    is: is$2,
    normalize: normalize$2,
    parse: parse$1,
};
const base64Converter = {
    name: "base64",
    aliases: ["b64"],
    encode: encode$2,
    decode: decode$2,
    is: is$1,
    normalize: normalize$1,
};
const base64urlConverter = {
    name: "base64url",
    aliases: ["base64-url", "b64url"],
    encode: encode$1,
    decode: decode$1,
    is: is,
    normalize: normalize,
};
const utf8Converter = {
    name: "utf8",
    aliases: ["utf-8"],
    encode: (data) => decode$4(data),
    decode: (text) => encode$4(text),
    is: (text) => typeof text === "string",
};
const utf16beConverter = {
    name: "utf16be",
    aliases: ["utf16", "utf-16", "utf-16be"],
    encode: (data) => decode$3(data),
    decode: (text) => encode$3(text),
    is: (text) => typeof text === "string",
};
const utf16leConverter = {
    name: "utf16le",
    aliases: ["utf-16le", "ucs2", "usc2"],
    encode: (data) => decode$3(data, { littleEndian: true }),
    decode: (text) => encode$3(text, { littleEndian: true }),
    is: (text) => typeof text === "string",
};
const defaultConverters = [
    binaryConverter,
    hexConverter,
    base64Converter,
    base64urlConverter,
    utf8Converter,
    utf16beConverter,
    utf16leConverter,
    pemConverter,
];
createConverterRegistry(defaultConverters);

var AsnTypeTypes;
(function (AsnTypeTypes) {
    AsnTypeTypes[AsnTypeTypes["Sequence"] = 0] = "Sequence";
    AsnTypeTypes[AsnTypeTypes["Set"] = 1] = "Set";
    AsnTypeTypes[AsnTypeTypes["Choice"] = 2] = "Choice";
})(AsnTypeTypes || (AsnTypeTypes = {}));
var AsnPropTypes;
(function (AsnPropTypes) {
    AsnPropTypes[AsnPropTypes["Any"] = 1] = "Any";
    AsnPropTypes[AsnPropTypes["Boolean"] = 2] = "Boolean";
    AsnPropTypes[AsnPropTypes["OctetString"] = 3] = "OctetString";
    AsnPropTypes[AsnPropTypes["BitString"] = 4] = "BitString";
    AsnPropTypes[AsnPropTypes["Integer"] = 5] = "Integer";
    AsnPropTypes[AsnPropTypes["Enumerated"] = 6] = "Enumerated";
    AsnPropTypes[AsnPropTypes["ObjectIdentifier"] = 7] = "ObjectIdentifier";
    AsnPropTypes[AsnPropTypes["Utf8String"] = 8] = "Utf8String";
    AsnPropTypes[AsnPropTypes["BmpString"] = 9] = "BmpString";
    AsnPropTypes[AsnPropTypes["UniversalString"] = 10] = "UniversalString";
    AsnPropTypes[AsnPropTypes["NumericString"] = 11] = "NumericString";
    AsnPropTypes[AsnPropTypes["PrintableString"] = 12] = "PrintableString";
    AsnPropTypes[AsnPropTypes["TeletexString"] = 13] = "TeletexString";
    AsnPropTypes[AsnPropTypes["VideotexString"] = 14] = "VideotexString";
    AsnPropTypes[AsnPropTypes["IA5String"] = 15] = "IA5String";
    AsnPropTypes[AsnPropTypes["GraphicString"] = 16] = "GraphicString";
    AsnPropTypes[AsnPropTypes["VisibleString"] = 17] = "VisibleString";
    AsnPropTypes[AsnPropTypes["GeneralString"] = 18] = "GeneralString";
    AsnPropTypes[AsnPropTypes["CharacterString"] = 19] = "CharacterString";
    AsnPropTypes[AsnPropTypes["UTCTime"] = 20] = "UTCTime";
    AsnPropTypes[AsnPropTypes["GeneralizedTime"] = 21] = "GeneralizedTime";
    AsnPropTypes[AsnPropTypes["DATE"] = 22] = "DATE";
    AsnPropTypes[AsnPropTypes["TimeOfDay"] = 23] = "TimeOfDay";
    AsnPropTypes[AsnPropTypes["DateTime"] = 24] = "DateTime";
    AsnPropTypes[AsnPropTypes["Duration"] = 25] = "Duration";
    AsnPropTypes[AsnPropTypes["TIME"] = 26] = "TIME";
    AsnPropTypes[AsnPropTypes["Null"] = 27] = "Null";
    AsnPropTypes[AsnPropTypes["RelativeObjectIdentifier"] = 28] = "RelativeObjectIdentifier";
})(AsnPropTypes || (AsnPropTypes = {}));

class BitString {
    unusedBits = 0;
    value = new ArrayBuffer(0);
    constructor(params, unusedBits = 0) {
        if (params) {
            if (typeof params === "number") {
                this.fromNumber(params);
            }
            else if (isBufferSource(params)) {
                this.unusedBits = unusedBits;
                this.value = toArrayBuffer(params);
            }
            else {
                throw TypeError("Unsupported type of 'params' argument for BitString");
            }
        }
    }
    fromASN(asn) {
        if (!(asn instanceof BitString$1)) {
            throw new TypeError("Argument 'asn' is not instance of ASN.1 BitString");
        }
        this.unusedBits = asn.valueBlock.unusedBits;
        this.value = toArrayBuffer(asn.valueBlock.valueHex);
        return this;
    }
    toASN() {
        return new BitString$1({
            unusedBits: this.unusedBits,
            valueHex: this.value,
        });
    }
    toSchema(name) {
        return new BitString$1({ name });
    }
    toNumber() {
        let res = "";
        const uintArray = new Uint8Array(this.value);
        for (const octet of uintArray) {
            res += octet.toString(2).padStart(8, "0");
        }
        res = res.split("").reverse().join("");
        if (this.unusedBits) {
            res = res.slice(this.unusedBits).padStart(this.unusedBits, "0");
        }
        return parseInt(res, 2);
    }
    fromNumber(value) {
        let bits = value.toString(2);
        const octetSize = (bits.length + 7) >> 3;
        this.unusedBits = (octetSize << 3) - bits.length;
        const octets = new Uint8Array(octetSize);
        bits = bits
            .padStart(octetSize << 3, "0")
            .split("")
            .reverse()
            .join("");
        let index = 0;
        while (index < octetSize) {
            octets[index] = parseInt(bits.slice(index << 3, (index << 3) + 8), 2);
            index++;
        }
        this.value = octets.buffer;
    }
}

class OctetString {
    buffer;
    get byteLength() {
        return this.buffer.byteLength;
    }
    get byteOffset() {
        return 0;
    }
    constructor(param) {
        if (typeof param === "number") {
            this.buffer = new ArrayBuffer(param);
        }
        else {
            if (isBufferSource(param)) {
                this.buffer = toArrayBuffer(param);
            }
            else if (Array.isArray(param)) {
                this.buffer = new Uint8Array(param).buffer;
            }
            else {
                this.buffer = new ArrayBuffer(0);
            }
        }
    }
    fromASN(asn) {
        if (!(asn instanceof OctetString$1)) {
            throw new TypeError("Argument 'asn' is not instance of ASN.1 OctetString");
        }
        this.buffer = toArrayBuffer(asn.valueBlock.valueHex);
        return this;
    }
    toASN() {
        return new OctetString$1({ valueHex: this.buffer });
    }
    toSchema(name) {
        return new OctetString$1({ name });
    }
}

const AsnAnyConverter = {
    fromASN: (value) => (value instanceof Null ? null : toArrayBuffer(value.valueBeforeDecodeView)),
    toASN: (value) => {
        if (value === null) {
            return new Null();
        }
        const schema = fromBER(value, { maxDepth: Infinity, maxNodes: Infinity, maxContentLength: Infinity });
        if (schema.result.error) {
            throw new Error(schema.result.error);
        }
        return schema.result;
    },
};
const AsnIntegerConverter = {
    fromASN: (value) => value.valueBlock.valueHexView.byteLength >= 4
        ? value.valueBlock.toString()
        : value.valueBlock.valueDec,
    toASN: (value) => new Integer({ value: +value }),
};
const AsnEnumeratedConverter = {
    fromASN: (value) => value.valueBlock.valueDec,
    toASN: (value) => new Enumerated({ value }),
};
const AsnIntegerArrayBufferConverter = {
    fromASN: (value) => toArrayBuffer(value.valueBlock.valueHexView),
    toASN: (value) => new Integer({ valueHex: value }),
};
const AsnBitStringConverter = {
    fromASN: (value) => toArrayBuffer(value.valueBlock.valueHexView),
    toASN: (value) => new BitString$1({ valueHex: value }),
};
const AsnObjectIdentifierConverter = {
    fromASN: (value) => value.valueBlock.toString(),
    toASN: (value) => new ObjectIdentifier({ value }),
};
const AsnRelativeObjectIdentifierConverter = {
    fromASN: (value) => value.valueBlock.toString(),
    toASN: (value) => new RelativeObjectIdentifier({ value }),
};
const AsnBooleanConverter = {
    fromASN: (value) => value.valueBlock.value,
    toASN: (value) => new Boolean$1({ value }),
};
const AsnOctetStringConverter = {
    fromASN: (value) => toArrayBuffer(value.valueBlock.valueHexView),
    toASN: (value) => new OctetString$1({ valueHex: value }),
};
function createStringConverter(Asn1Type) {
    return {
        fromASN: (value) => value.valueBlock.value,
        toASN: (value) => new Asn1Type({ value }),
    };
}
const AsnUtf8StringConverter = createStringConverter(Utf8String);
const AsnBmpStringConverter = createStringConverter(BmpString);
const AsnUniversalStringConverter = createStringConverter(UniversalString);
const AsnNumericStringConverter = createStringConverter(NumericString);
const AsnPrintableStringConverter = createStringConverter(PrintableString);
const AsnTeletexStringConverter = createStringConverter(TeletexString);
const AsnVideotexStringConverter = createStringConverter(VideotexString);
const AsnIA5StringConverter = createStringConverter(IA5String);
const AsnGraphicStringConverter = createStringConverter(GraphicString);
const AsnVisibleStringConverter = createStringConverter(VisibleString);
const AsnGeneralStringConverter = createStringConverter(GeneralString);
const AsnCharacterStringConverter = createStringConverter(CharacterString);
const AsnUTCTimeConverter = {
    fromASN: (value) => value.toDate(),
    toASN: (value) => new UTCTime({ valueDate: value }),
};
const AsnGeneralizedTimeConverter = {
    fromASN: (value) => value.toDate(),
    toASN: (value) => new GeneralizedTime({ valueDate: value }),
};
const AsnNullConverter = {
    fromASN: () => null,
    toASN: () => {
        return new Null();
    },
};
function defaultConverter(type) {
    switch (type) {
        case AsnPropTypes.Any:
            return AsnAnyConverter;
        case AsnPropTypes.BitString:
            return AsnBitStringConverter;
        case AsnPropTypes.BmpString:
            return AsnBmpStringConverter;
        case AsnPropTypes.Boolean:
            return AsnBooleanConverter;
        case AsnPropTypes.CharacterString:
            return AsnCharacterStringConverter;
        case AsnPropTypes.Enumerated:
            return AsnEnumeratedConverter;
        case AsnPropTypes.GeneralString:
            return AsnGeneralStringConverter;
        case AsnPropTypes.GeneralizedTime:
            return AsnGeneralizedTimeConverter;
        case AsnPropTypes.GraphicString:
            return AsnGraphicStringConverter;
        case AsnPropTypes.IA5String:
            return AsnIA5StringConverter;
        case AsnPropTypes.Integer:
            return AsnIntegerConverter;
        case AsnPropTypes.Null:
            return AsnNullConverter;
        case AsnPropTypes.NumericString:
            return AsnNumericStringConverter;
        case AsnPropTypes.ObjectIdentifier:
            return AsnObjectIdentifierConverter;
        case AsnPropTypes.RelativeObjectIdentifier:
            return AsnRelativeObjectIdentifierConverter;
        case AsnPropTypes.OctetString:
            return AsnOctetStringConverter;
        case AsnPropTypes.PrintableString:
            return AsnPrintableStringConverter;
        case AsnPropTypes.TeletexString:
            return AsnTeletexStringConverter;
        case AsnPropTypes.UTCTime:
            return AsnUTCTimeConverter;
        case AsnPropTypes.UniversalString:
            return AsnUniversalStringConverter;
        case AsnPropTypes.Utf8String:
            return AsnUtf8StringConverter;
        case AsnPropTypes.VideotexString:
            return AsnVideotexStringConverter;
        case AsnPropTypes.VisibleString:
            return AsnVisibleStringConverter;
        default:
            return null;
    }
}

function isConvertible(target) {
    if (typeof target === "function" && target.prototype) {
        if (target.prototype.toASN && target.prototype.fromASN) {
            return true;
        }
        else {
            return isConvertible(target.prototype);
        }
    }
    else {
        return !!(target && typeof target === "object" && "toASN" in target && "fromASN" in target);
    }
}
function isTypeOfArray(target) {
    if (target) {
        const proto = Object.getPrototypeOf(target);
        if (proto?.prototype?.constructor === Array) {
            return true;
        }
        return isTypeOfArray(proto);
    }
    return false;
}
function isArrayEqual(bytes1, bytes2) {
    if (!(bytes1 && bytes2)) {
        return false;
    }
    if (bytes1.byteLength !== bytes2.byteLength) {
        return false;
    }
    const b1 = new Uint8Array(bytes1);
    const b2 = new Uint8Array(bytes2);
    for (let i = 0; i < bytes1.byteLength; i++) {
        if (b1[i] !== b2[i]) {
            return false;
        }
    }
    return true;
}

class AsnSchemaStorage {
    items = new WeakMap();
    has(target) {
        return this.items.has(target);
    }
    get(target, checkSchema = false) {
        const schema = this.items.get(target);
        if (!schema) {
            throw new Error(`Cannot get schema for '${target.prototype.constructor.name}' target`);
        }
        if (checkSchema && !schema.schema) {
            throw new Error(`Schema '${target.prototype.constructor.name}' doesn't contain ASN.1 schema. Call 'AsnSchemaStorage.cache'.`);
        }
        return schema;
    }
    cache(target) {
        const schema = this.get(target);
        if (!schema.schema) {
            schema.schema = this.create(target, true);
        }
    }
    createDefault(target) {
        const schema = {
            type: AsnTypeTypes.Sequence,
            items: {},
        };
        const parentSchema = this.findParentSchema(target);
        if (parentSchema) {
            Object.assign(schema, parentSchema);
            schema.items = Object.assign({}, schema.items, parentSchema.items);
        }
        return schema;
    }
    create(target, useNames) {
        const schema = this.items.get(target) || this.createDefault(target);
        const asn1Value = [];
        for (const key in schema.items) {
            const item = schema.items[key];
            const name = useNames ? key : "";
            let asn1Item;
            if (typeof item.type === "number") {
                const Asn1TypeName = AsnPropTypes[item.type];
                const Asn1Type = asn1js[Asn1TypeName];
                if (!Asn1Type) {
                    throw new Error(`Cannot get ASN1 class by name '${Asn1TypeName}'`);
                }
                asn1Item = new Asn1Type({ name });
            }
            else if (isConvertible(item.type)) {
                const instance = new item.type();
                asn1Item = instance.toSchema(name);
            }
            else if (item.optional) {
                const itemSchema = this.get(item.type);
                if (itemSchema.type === AsnTypeTypes.Choice) {
                    asn1Item = new Any({ name });
                }
                else {
                    asn1Item = this.create(item.type, false);
                    asn1Item.name = name;
                }
            }
            else {
                asn1Item = new Any({ name });
            }
            const optional = !!item.optional || item.defaultValue !== undefined;
            if (item.repeated) {
                asn1Item.name = "";
                const Container = item.repeated === "set" ? Set$1 : Sequence;
                asn1Item = new Container({
                    name: "",
                    value: [
                        new Repeated({
                            name,
                            value: asn1Item,
                        }),
                    ],
                });
            }
            if (item.context !== null && item.context !== undefined) {
                if (item.implicit) {
                    if (typeof item.type === "number" || isConvertible(item.type)) {
                        const Container = item.repeated ? Constructed : Primitive;
                        asn1Value.push(new Container({
                            name,
                            optional,
                            idBlock: {
                                tagClass: 3,
                                tagNumber: item.context,
                            },
                        }));
                    }
                    else {
                        this.cache(item.type);
                        const isRepeated = !!item.repeated;
                        let value = !isRepeated ? this.get(item.type, true).schema : asn1Item;
                        value = "valueBlock" in value ? value.valueBlock.value : value.value;
                        asn1Value.push(new Constructed({
                            name: !isRepeated ? name : "",
                            optional,
                            idBlock: {
                                tagClass: 3,
                                tagNumber: item.context,
                            },
                            value: value,
                        }));
                    }
                }
                else {
                    asn1Value.push(new Constructed({
                        optional,
                        idBlock: {
                            tagClass: 3,
                            tagNumber: item.context,
                        },
                        value: [asn1Item],
                    }));
                }
            }
            else {
                asn1Item.optional = optional;
                asn1Value.push(asn1Item);
            }
        }
        switch (schema.type) {
            case AsnTypeTypes.Sequence:
                return new Sequence({
                    value: asn1Value,
                    name: "",
                });
            case AsnTypeTypes.Set:
                return new Set$1({
                    value: asn1Value,
                    name: "",
                });
            case AsnTypeTypes.Choice:
                return new Choice({
                    value: asn1Value,
                    name: "",
                });
            default:
                throw new Error("Unsupported ASN1 type in use");
        }
    }
    set(target, schema) {
        this.items.set(target, schema);
        return this;
    }
    findParentSchema(target) {
        const parent = Object.getPrototypeOf(target);
        if (parent) {
            const schema = this.items.get(parent);
            return schema || this.findParentSchema(parent);
        }
        return null;
    }
}

const schemaStorage = new AsnSchemaStorage();

const AsnType = (options) => (target) => {
    let schema;
    if (!schemaStorage.has(target)) {
        schema = schemaStorage.createDefault(target);
        schemaStorage.set(target, schema);
    }
    else {
        schema = schemaStorage.get(target);
    }
    Object.assign(schema, options);
};
const AsnProp = (options) => (target, propertyKey) => {
    let schema;
    if (!schemaStorage.has(target.constructor)) {
        schema = schemaStorage.createDefault(target.constructor);
        schemaStorage.set(target.constructor, schema);
    }
    else {
        schema = schemaStorage.get(target.constructor);
    }
    const copyOptions = Object.assign({}, options);
    if (typeof copyOptions.type === "number" && !copyOptions.converter) {
        const defaultConverter$1 = defaultConverter(options.type);
        if (!defaultConverter$1) {
            throw new Error(`Cannot get default converter for property '${propertyKey}' of ${target.constructor.name}`);
        }
        copyOptions.converter = defaultConverter$1;
    }
    copyOptions.raw = options.raw;
    schema.items[propertyKey] = copyOptions;
};

class AsnSchemaValidationError extends Error {
    schemas = [];
}

class AsnParser {
    static parse(data, target, options) {
        const asn1Parsed = fromBER(toArrayBuffer(data), options?.berOptions);
        if (asn1Parsed.result.error) {
            throw new Error(asn1Parsed.result.error);
        }
        const res = this.fromASN(asn1Parsed.result, target, options);
        return res;
    }
    static fromASN(asn1Schema, target, options) {
        try {
            if (isConvertible(target)) {
                const value = new target();
                return value.fromASN(asn1Schema);
            }
            const schema = schemaStorage.get(target);
            schemaStorage.cache(target);
            let targetSchema = schema.schema;
            const choiceResult = this.handleChoiceTypes(asn1Schema, schema, target, targetSchema, options);
            if (choiceResult?.result) {
                return choiceResult.result;
            }
            if (choiceResult?.targetSchema) {
                targetSchema = choiceResult.targetSchema;
            }
            const sequenceResult = this.handleSequenceTypes(asn1Schema, schema, target, targetSchema);
            const res = new target();
            if (isTypeOfArray(target)) {
                return this.handleArrayTypes(asn1Schema, schema, target, options);
            }
            this.processSchemaItems(schema, sequenceResult, res, options);
            return res;
        }
        catch (error) {
            if (error instanceof AsnSchemaValidationError) {
                error.schemas.push(target.name);
            }
            throw error;
        }
    }
    static handleChoiceTypes(asn1Schema, schema, target, targetSchema, options) {
        if (asn1Schema.constructor === Constructed && schema.type === AsnTypeTypes.Choice && asn1Schema.idBlock.tagClass === 3) {
            for (const key in schema.items) {
                const schemaItem = schema.items[key];
                if (schemaItem.context === asn1Schema.idBlock.tagNumber && schemaItem.implicit) {
                    if (typeof schemaItem.type === "function" && schemaStorage.has(schemaItem.type)) {
                        const fieldSchema = schemaStorage.get(schemaItem.type);
                        if (fieldSchema && fieldSchema.type === AsnTypeTypes.Sequence) {
                            const newSeq = new Sequence();
                            if ("value" in asn1Schema.valueBlock && Array.isArray(asn1Schema.valueBlock.value) && "value" in newSeq.valueBlock) {
                                newSeq.valueBlock.value = asn1Schema.valueBlock.value;
                                const fieldValue = this.fromASN(newSeq, schemaItem.type, options);
                                const res = new target();
                                res[key] = fieldValue;
                                return { result: res };
                            }
                        }
                    }
                }
            }
        }
        else if (asn1Schema.constructor === Constructed && schema.type !== AsnTypeTypes.Choice) {
            const newTargetSchema = new Constructed({
                idBlock: {
                    tagClass: 3,
                    tagNumber: asn1Schema.idBlock.tagNumber,
                },
                value: schema.schema.valueBlock.value,
            });
            for (const key in schema.items) {
                delete asn1Schema[key];
            }
            return { targetSchema: newTargetSchema };
        }
        return null;
    }
    static handleSequenceTypes(asn1Schema, schema, target, targetSchema) {
        if (schema.type === AsnTypeTypes.Sequence) {
            const asn1ComparedSchema = compareSchema({}, asn1Schema, targetSchema);
            if (!asn1ComparedSchema.verified) {
                throw new AsnSchemaValidationError(`Data does not match to ${target.name} ASN1 schema.${asn1ComparedSchema.result.error ? ` ${asn1ComparedSchema.result.error}` : ""}`);
            }
            return asn1ComparedSchema;
        }
        else {
            const asn1ComparedSchema = compareSchema({}, asn1Schema, targetSchema);
            if (!asn1ComparedSchema.verified) {
                throw new AsnSchemaValidationError(`Data does not match to ${target.name} ASN1 schema.${asn1ComparedSchema.result.error ? ` ${asn1ComparedSchema.result.error}` : ""}`);
            }
            return asn1ComparedSchema;
        }
    }
    static processRepeatedField(asn1Elements, asn1Index, schemaItem) {
        let elementsToProcess = asn1Elements.slice(asn1Index);
        if (elementsToProcess.length === 1 && elementsToProcess[0].constructor.name === "Sequence") {
            const seq = elementsToProcess[0];
            if (seq.valueBlock && seq.valueBlock.value && Array.isArray(seq.valueBlock.value)) {
                elementsToProcess = seq.valueBlock.value;
            }
        }
        if (typeof schemaItem.type === "number") {
            const converter = defaultConverter(schemaItem.type);
            if (!converter)
                throw new Error(`No converter for ASN.1 type ${schemaItem.type}`);
            return elementsToProcess
                .filter((el) => el && el.valueBlock)
                .map((el) => {
                try {
                    return converter.fromASN(el);
                }
                catch {
                    return undefined;
                }
            })
                .filter((v) => v !== undefined);
        }
        else {
            return elementsToProcess
                .filter((el) => el && el.valueBlock)
                .map((el) => {
                try {
                    return this.fromASN(el, schemaItem.type);
                }
                catch {
                    return undefined;
                }
            })
                .filter((v) => v !== undefined);
        }
    }
    static processPrimitiveField(asn1Element, schemaItem) {
        const converter = defaultConverter(schemaItem.type);
        if (!converter)
            throw new Error(`No converter for ASN.1 type ${schemaItem.type}`);
        return converter.fromASN(asn1Element);
    }
    static isOptionalChoiceField(schemaItem) {
        return (schemaItem.optional &&
            typeof schemaItem.type === "function" &&
            schemaStorage.has(schemaItem.type) &&
            schemaStorage.get(schemaItem.type).type === AsnTypeTypes.Choice);
    }
    static processOptionalChoiceField(asn1Element, schemaItem) {
        try {
            const value = this.fromASN(asn1Element, schemaItem.type);
            return {
                processed: true,
                value,
            };
        }
        catch (err) {
            if (err instanceof AsnSchemaValidationError && /Wrong values for Choice type/.test(err.message)) {
                return { processed: false };
            }
            throw err;
        }
    }
    static handleArrayTypes(asn1Schema, schema, target, options) {
        if (!("value" in asn1Schema.valueBlock && Array.isArray(asn1Schema.valueBlock.value))) {
            throw new Error("Cannot get items from the ASN.1 parsed value. ASN.1 object is not constructed.");
        }
        const itemType = schema.itemType;
        if (typeof itemType === "number") {
            const converter = defaultConverter(itemType);
            if (!converter) {
                throw new Error(`Cannot get default converter for array item of ${target.name} ASN1 schema`);
            }
            return target.from(asn1Schema.valueBlock.value, (element) => converter.fromASN(element));
        }
        else {
            return target.from(asn1Schema.valueBlock.value, (element) => this.fromASN(element, itemType, options));
        }
    }
    static processSchemaItems(schema, asn1ComparedSchema, res, options) {
        for (const key in schema.items) {
            const asn1SchemaValue = asn1ComparedSchema.result[key];
            if (!asn1SchemaValue) {
                continue;
            }
            const schemaItem = schema.items[key];
            const schemaItemType = schemaItem.type;
            let parsedValue;
            if (typeof schemaItemType === "number" || isConvertible(schemaItemType)) {
                parsedValue = this.processPrimitiveSchemaItem(asn1SchemaValue, schemaItem, schemaItemType, options);
            }
            else {
                parsedValue = this.processComplexSchemaItem(asn1SchemaValue, schemaItem, schemaItemType, options);
            }
            if (parsedValue && typeof parsedValue === "object" && "value" in parsedValue && "raw" in parsedValue) {
                res[key] = parsedValue.value;
                res[`${key}Raw`] = parsedValue.raw;
            }
            else {
                res[key] = parsedValue;
            }
        }
    }
    static processPrimitiveSchemaItem(asn1SchemaValue, schemaItem, schemaItemType, options) {
        const converter = schemaItem.converter ?? (isConvertible(schemaItemType) ? new schemaItemType() : null);
        if (!converter) {
            throw new Error("Converter is empty");
        }
        if (schemaItem.repeated) {
            return this.processRepeatedPrimitiveItem(asn1SchemaValue, schemaItem, converter, options);
        }
        else {
            return this.processSinglePrimitiveItem(asn1SchemaValue, schemaItem, schemaItemType, converter, options);
        }
    }
    static processRepeatedPrimitiveItem(asn1SchemaValue, schemaItem, converter, options) {
        if (schemaItem.implicit) {
            const Container = schemaItem.repeated === "sequence" ? Sequence : Set$1;
            const newItem = new Container();
            newItem.valueBlock = asn1SchemaValue.valueBlock;
            const newItemAsn = fromBER(newItem.toBER(false), options?.berOptions);
            if (newItemAsn.offset === -1) {
                throw new Error(`Cannot parse the child item. ${newItemAsn.result.error}`);
            }
            if (!("value" in newItemAsn.result.valueBlock && Array.isArray(newItemAsn.result.valueBlock.value))) {
                throw new Error("Cannot get items from the ASN.1 parsed value. ASN.1 object is not constructed.");
            }
            const value = newItemAsn.result.valueBlock.value;
            return Array.from(value, (element) => converter.fromASN(element));
        }
        else {
            return Array.from(asn1SchemaValue, (element) => converter.fromASN(element));
        }
    }
    static processSinglePrimitiveItem(asn1SchemaValue, schemaItem, schemaItemType, converter, options) {
        let value = asn1SchemaValue;
        if (schemaItem.implicit) {
            let newItem;
            if (isConvertible(schemaItemType)) {
                newItem = new schemaItemType().toSchema("");
            }
            else {
                const Asn1TypeName = AsnPropTypes[schemaItemType];
                const Asn1Type = asn1js[Asn1TypeName];
                if (!Asn1Type) {
                    throw new Error(`Cannot get '${Asn1TypeName}' class from asn1js module`);
                }
                newItem = new Asn1Type();
            }
            newItem.valueBlock = value.valueBlock;
            value = fromBER(newItem.toBER(false), options?.berOptions).result;
        }
        return converter.fromASN(value);
    }
    static processComplexSchemaItem(asn1SchemaValue, schemaItem, schemaItemType, options) {
        if (schemaItem.repeated) {
            if (!Array.isArray(asn1SchemaValue)) {
                throw new Error("Cannot get list of items from the ASN.1 parsed value. ASN.1 value should be iterable.");
            }
            return Array.from(asn1SchemaValue, (element) => this.fromASN(element, schemaItemType, options));
        }
        else {
            const valueToProcess = this.handleImplicitTagging(asn1SchemaValue, schemaItem, schemaItemType);
            if (this.isOptionalChoiceField(schemaItem)) {
                try {
                    return this.fromASN(valueToProcess, schemaItemType, options);
                }
                catch (err) {
                    if (err instanceof AsnSchemaValidationError && /Wrong values for Choice type/.test(err.message)) {
                        return undefined;
                    }
                    throw err;
                }
            }
            else {
                const parsedValue = this.fromASN(valueToProcess, schemaItemType, options);
                if (schemaItem.raw) {
                    return {
                        value: parsedValue,
                        raw: asn1SchemaValue.valueBeforeDecodeView,
                    };
                }
                return parsedValue;
            }
        }
    }
    static handleImplicitTagging(asn1SchemaValue, schemaItem, schemaItemType) {
        if (schemaItem.implicit && typeof schemaItem.context === "number") {
            const schema = schemaStorage.get(schemaItemType);
            if (schema.type === AsnTypeTypes.Sequence) {
                const newSeq = new Sequence();
                if ("value" in asn1SchemaValue.valueBlock && Array.isArray(asn1SchemaValue.valueBlock.value) && "value" in newSeq.valueBlock) {
                    newSeq.valueBlock.value = asn1SchemaValue.valueBlock.value;
                    return newSeq;
                }
            }
            else if (schema.type === AsnTypeTypes.Set) {
                const newSet = new Set$1();
                if ("value" in asn1SchemaValue.valueBlock && Array.isArray(asn1SchemaValue.valueBlock.value) && "value" in newSet.valueBlock) {
                    newSet.valueBlock.value = asn1SchemaValue.valueBlock.value;
                    return newSet;
                }
            }
        }
        return asn1SchemaValue;
    }
}

class AsnSerializer {
    static serialize(obj) {
        if (obj instanceof BaseBlock) {
            return obj.toBER(false);
        }
        return this.toASN(obj).toBER(false);
    }
    static toASN(obj) {
        if (obj && typeof obj === "object" && isConvertible(obj)) {
            return obj.toASN();
        }
        if (!(obj && typeof obj === "object")) {
            throw new TypeError("Parameter 1 should be type of Object.");
        }
        const target = obj.constructor;
        const schema = schemaStorage.get(target);
        schemaStorage.cache(target);
        let asn1Value = [];
        if (schema.itemType) {
            if (!Array.isArray(obj)) {
                throw new TypeError("Parameter 1 should be type of Array.");
            }
            if (typeof schema.itemType === "number") {
                const converter = defaultConverter(schema.itemType);
                if (!converter) {
                    throw new Error(`Cannot get default converter for array item of ${target.name} ASN1 schema`);
                }
                asn1Value = obj.map((o) => converter.toASN(o));
            }
            else {
                asn1Value = obj.map((o) => this.toAsnItem({ type: schema.itemType }, "[]", target, o));
            }
        }
        else {
            for (const key in schema.items) {
                const schemaItem = schema.items[key];
                const objProp = obj[key];
                if (objProp === undefined ||
                    schemaItem.defaultValue === objProp ||
                    (typeof schemaItem.defaultValue === "object" && typeof objProp === "object" && isArrayEqual(this.serialize(schemaItem.defaultValue), this.serialize(objProp)))) {
                    continue;
                }
                const asn1Item = AsnSerializer.toAsnItem(schemaItem, key, target, objProp);
                if (typeof schemaItem.context === "number") {
                    if (schemaItem.implicit) {
                        if (!schemaItem.repeated && (typeof schemaItem.type === "number" || isConvertible(schemaItem.type))) {
                            const value = {};
                            value.valueHex = asn1Item instanceof Null ? toArrayBuffer(asn1Item.valueBeforeDecodeView) : asn1Item.valueBlock.toBER();
                            asn1Value.push(new Primitive({
                                optional: schemaItem.optional,
                                idBlock: {
                                    tagClass: 3,
                                    tagNumber: schemaItem.context,
                                },
                                ...value,
                            }));
                        }
                        else {
                            asn1Value.push(new Constructed({
                                optional: schemaItem.optional,
                                idBlock: {
                                    tagClass: 3,
                                    tagNumber: schemaItem.context,
                                },
                                value: asn1Item.valueBlock.value,
                            }));
                        }
                    }
                    else {
                        asn1Value.push(new Constructed({
                            optional: schemaItem.optional,
                            idBlock: {
                                tagClass: 3,
                                tagNumber: schemaItem.context,
                            },
                            value: [asn1Item],
                        }));
                    }
                }
                else if (schemaItem.repeated) {
                    asn1Value = asn1Value.concat(asn1Item);
                }
                else {
                    asn1Value.push(asn1Item);
                }
            }
        }
        let asnSchema;
        switch (schema.type) {
            case AsnTypeTypes.Sequence:
                asnSchema = new Sequence({ value: asn1Value });
                break;
            case AsnTypeTypes.Set:
                asnSchema = new Set$1({ value: asn1Value });
                break;
            case AsnTypeTypes.Choice:
                if (!asn1Value[0]) {
                    throw new Error(`Schema '${target.name}' has wrong data. Choice cannot be empty.`);
                }
                asnSchema = asn1Value[0];
                break;
        }
        return asnSchema;
    }
    static toAsnItem(schemaItem, key, target, objProp) {
        let asn1Item;
        if (typeof schemaItem.type === "number") {
            const converter = schemaItem.converter;
            if (!converter) {
                throw new Error(`Property '${key}' doesn't have converter for type ${AsnPropTypes[schemaItem.type]} in schema '${target.name}'`);
            }
            if (schemaItem.repeated) {
                if (!Array.isArray(objProp)) {
                    throw new TypeError("Parameter 'objProp' should be type of Array.");
                }
                const items = Array.from(objProp, (element) => converter.toASN(element));
                const Container = schemaItem.repeated === "sequence" ? Sequence : Set$1;
                asn1Item = new Container({ value: items });
            }
            else {
                asn1Item = converter.toASN(objProp);
            }
        }
        else {
            if (schemaItem.repeated) {
                if (!Array.isArray(objProp)) {
                    throw new TypeError("Parameter 'objProp' should be type of Array.");
                }
                const items = Array.from(objProp, (element) => this.toASN(element));
                const Container = schemaItem.repeated === "sequence" ? Sequence : Set$1;
                asn1Item = new Container({ value: items });
            }
            else {
                asn1Item = this.toASN(objProp);
            }
        }
        return asn1Item;
    }
}

class AsnArray extends Array {
    constructor(items = []) {
        if (typeof items === "number") {
            super(items);
        }
        else {
            super();
            for (const item of items) {
                this.push(item);
            }
        }
    }
}

class AsnConvert {
    static serialize(obj) {
        return AsnSerializer.serialize(obj);
    }
    static parse(data, target, options) {
        return AsnParser.parse(data, target, options);
    }
    static toString(data, options) {
        const buf = isBufferSource(data) ? toArrayBuffer(data) : AsnConvert.serialize(data);
        const asn = fromBER(buf, options?.berOptions);
        if (asn.offset === -1) {
            throw new Error(`Cannot decode ASN.1 data. ${asn.result.error}`);
        }
        return asn.result.toString();
    }
}

/******************************************************************************
Copyright (c) Microsoft Corporation.

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH
REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY
AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT,
INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM
LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR
OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR
PERFORMANCE OF THIS SOFTWARE.
***************************************************************************** */
/* global Reflect, Promise, SuppressedError, Symbol, Iterator */


function __decorate(decorators, target, key, desc) {
    var c = arguments.length, r = c < 3 ? target : desc === null ? desc = Object.getOwnPropertyDescriptor(target, key) : desc, d;
    if (typeof Reflect === "object" && typeof Reflect.decorate === "function") r = Reflect.decorate(decorators, target, key, desc);
    else for (var i = decorators.length - 1; i >= 0; i--) if (d = decorators[i]) r = (c < 3 ? d(r) : c > 3 ? d(target, key, r) : d(target, key)) || r;
    return c > 3 && r && Object.defineProperty(target, key, r), r;
}

typeof SuppressedError === "function" ? SuppressedError : function (error, suppressed, message) {
    var e = new Error(message);
    return e.name = "SuppressedError", e.error = error, e.suppressed = suppressed, e;
};

class IpConverter {
    static isIPv4(ip) {
        return /^(\d{1,3}\.){3}\d{1,3}$/.test(ip);
    }
    static parseIPv4(ip) {
        const parts = ip.split(".");
        if (parts.length !== 4) {
            throw new Error("Invalid IPv4 address");
        }
        return parts.map((part) => {
            const num = parseInt(part, 10);
            if (isNaN(num) || num < 0 || num > 255) {
                throw new Error("Invalid IPv4 address part");
            }
            return num;
        });
    }
    static parseIPv6(ip) {
        const expandedIP = this.expandIPv6(ip);
        const parts = expandedIP.split(":");
        if (parts.length !== 8) {
            throw new Error("Invalid IPv6 address");
        }
        return parts.reduce((bytes, part) => {
            const num = parseInt(part, 16);
            if (isNaN(num) || num < 0 || num > 0xffff) {
                throw new Error("Invalid IPv6 address part");
            }
            bytes.push((num >> 8) & 0xff);
            bytes.push(num & 0xff);
            return bytes;
        }, []);
    }
    static expandIPv6(ip) {
        if (!ip.includes("::")) {
            return ip;
        }
        const parts = ip.split("::");
        if (parts.length > 2) {
            throw new Error("Invalid IPv6 address");
        }
        const left = parts[0] ? parts[0].split(":") : [];
        const right = parts[1] ? parts[1].split(":") : [];
        const missing = 8 - (left.length + right.length);
        if (missing < 0) {
            throw new Error("Invalid IPv6 address");
        }
        return [...left, ...Array(missing).fill("0"), ...right].join(":");
    }
    static formatIPv6(bytes) {
        const parts = [];
        for (let i = 0; i < 16; i += 2) {
            parts.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
        }
        return this.compressIPv6(parts.join(":"));
    }
    static compressIPv6(ip) {
        const parts = ip.split(":");
        let longestZeroStart = -1;
        let longestZeroLength = 0;
        let currentZeroStart = -1;
        let currentZeroLength = 0;
        for (let i = 0; i < parts.length; i++) {
            if (parts[i] === "0") {
                if (currentZeroStart === -1) {
                    currentZeroStart = i;
                }
                currentZeroLength++;
            }
            else {
                if (currentZeroLength > longestZeroLength) {
                    longestZeroStart = currentZeroStart;
                    longestZeroLength = currentZeroLength;
                }
                currentZeroStart = -1;
                currentZeroLength = 0;
            }
        }
        if (currentZeroLength > longestZeroLength) {
            longestZeroStart = currentZeroStart;
            longestZeroLength = currentZeroLength;
        }
        if (longestZeroLength > 1) {
            const before = parts.slice(0, longestZeroStart).join(":");
            const after = parts.slice(longestZeroStart + longestZeroLength).join(":");
            return `${before}::${after}`;
        }
        return ip;
    }
    static parseCIDR(text) {
        const [addr, prefixStr] = text.split("/");
        const prefix = parseInt(prefixStr, 10);
        if (this.isIPv4(addr)) {
            if (prefix < 0 || prefix > 32) {
                throw new Error("Invalid IPv4 prefix length");
            }
            return [this.parseIPv4(addr), prefix];
        }
        else {
            if (prefix < 0 || prefix > 128) {
                throw new Error("Invalid IPv6 prefix length");
            }
            return [this.parseIPv6(addr), prefix];
        }
    }
    static decodeIP(value) {
        if (value.length === 64 && parseInt(value, 16) === 0) {
            return "::/0";
        }
        if (value.length !== 16) {
            return value;
        }
        const mask = parseInt(value.slice(8), 16)
            .toString(2)
            .split("")
            .reduce((a, k) => a + +k, 0);
        let ip = value.slice(0, 8).replace(/(.{2})/g, (match) => `${parseInt(match, 16)}.`);
        ip = ip.slice(0, -1);
        return `${ip}/${mask}`;
    }
    static toString(buf) {
        const uint8 = new Uint8Array(buf);
        if (uint8.length === 4) {
            return Array.from(uint8).join(".");
        }
        if (uint8.length === 16) {
            return this.formatIPv6(uint8);
        }
        if (uint8.length === 8 || uint8.length === 32) {
            const half = uint8.length / 2;
            const addrBytes = uint8.slice(0, half);
            const maskBytes = uint8.slice(half);
            const isAllZeros = uint8.every((byte) => byte === 0);
            if (isAllZeros) {
                return uint8.length === 8 ? "0.0.0.0/0" : "::/0";
            }
            const prefixLen = maskBytes.reduce((a, b) => a + (b.toString(2).match(/1/g) || []).length, 0);
            if (uint8.length === 8) {
                const addrStr = Array.from(addrBytes).join(".");
                return `${addrStr}/${prefixLen}`;
            }
            else {
                const addrStr = this.formatIPv6(addrBytes);
                return `${addrStr}/${prefixLen}`;
            }
        }
        return this.decodeIP(encode$5(buf));
    }
    static fromString(text) {
        if (text.includes("/")) {
            const [addr, prefix] = this.parseCIDR(text);
            const maskBytes = new Uint8Array(addr.length);
            let bitsLeft = prefix;
            for (let i = 0; i < maskBytes.length; i++) {
                if (bitsLeft >= 8) {
                    maskBytes[i] = 0xff;
                    bitsLeft -= 8;
                }
                else if (bitsLeft > 0) {
                    maskBytes[i] = 0xff << (8 - bitsLeft);
                    bitsLeft = 0;
                }
            }
            const out = new Uint8Array(addr.length * 2);
            out.set(addr, 0);
            out.set(maskBytes, addr.length);
            return out.buffer;
        }
        const bytes = this.isIPv4(text) ? this.parseIPv4(text) : this.parseIPv6(text);
        return new Uint8Array(bytes).buffer;
    }
}

var RelativeDistinguishedName_1, RDNSequence_1, Name_1;
let DirectoryString = class DirectoryString {
    teletexString;
    printableString;
    universalString;
    utf8String;
    bmpString;
    constructor(params = {}) {
        Object.assign(this, params);
    }
    toString() {
        return this.bmpString || this.printableString || this.teletexString || this.universalString || this.utf8String || "";
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.TeletexString })
], DirectoryString.prototype, "teletexString", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.PrintableString })
], DirectoryString.prototype, "printableString", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.UniversalString })
], DirectoryString.prototype, "universalString", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.Utf8String })
], DirectoryString.prototype, "utf8String", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.BmpString })
], DirectoryString.prototype, "bmpString", void 0);
DirectoryString = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], DirectoryString);
let AttributeValue = class AttributeValue extends DirectoryString {
    ia5String;
    anyValue;
    constructor(params = {}) {
        super(params);
        Object.assign(this, params);
    }
    toString() {
        return this.ia5String || (this.anyValue ? encode$5(this.anyValue) : super.toString());
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.IA5String })
], AttributeValue.prototype, "ia5String", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.Any })
], AttributeValue.prototype, "anyValue", void 0);
AttributeValue = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], AttributeValue);
class AttributeTypeAndValue {
    type = "";
    value = new AttributeValue();
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], AttributeTypeAndValue.prototype, "type", void 0);
__decorate([
    AsnProp({ type: AttributeValue })
], AttributeTypeAndValue.prototype, "value", void 0);
let RelativeDistinguishedName = RelativeDistinguishedName_1 = class RelativeDistinguishedName extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, RelativeDistinguishedName_1.prototype);
    }
};
RelativeDistinguishedName = RelativeDistinguishedName_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Set,
        itemType: AttributeTypeAndValue,
    })
], RelativeDistinguishedName);
let RDNSequence = RDNSequence_1 = class RDNSequence extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, RDNSequence_1.prototype);
    }
};
RDNSequence = RDNSequence_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: RelativeDistinguishedName,
    })
], RDNSequence);
let Name = Name_1 = class Name extends RDNSequence {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, Name_1.prototype);
    }
};
Name = Name_1 = __decorate([
    AsnType({ type: AsnTypeTypes.Sequence })
], Name);

const AsnIpConverter = {
    fromASN: (value) => IpConverter.toString(AsnOctetStringConverter.fromASN(value)),
    toASN: (value) => AsnOctetStringConverter.toASN(IpConverter.fromString(value)),
};
class OtherName {
    typeId = "";
    value = new ArrayBuffer(0);
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], OtherName.prototype, "typeId", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Any,
        context: 0,
    })
], OtherName.prototype, "value", void 0);
class EDIPartyName {
    nameAssigner;
    partyName = new DirectoryString();
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: DirectoryString,
        optional: true,
        context: 0,
        implicit: true,
    })
], EDIPartyName.prototype, "nameAssigner", void 0);
__decorate([
    AsnProp({
        type: DirectoryString,
        context: 1,
        implicit: true,
    })
], EDIPartyName.prototype, "partyName", void 0);
let GeneralName = class GeneralName {
    otherName;
    rfc822Name;
    dNSName;
    x400Address;
    directoryName;
    ediPartyName;
    uniformResourceIdentifier;
    iPAddress;
    registeredID;
    constructor(params = {}) {
        Object.assign(this, params);
    }
};
__decorate([
    AsnProp({
        type: OtherName,
        context: 0,
        implicit: true,
    })
], GeneralName.prototype, "otherName", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.IA5String,
        context: 1,
        implicit: true,
    })
], GeneralName.prototype, "rfc822Name", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.IA5String,
        context: 2,
        implicit: true,
    })
], GeneralName.prototype, "dNSName", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Any,
        context: 3,
        implicit: true,
    })
], GeneralName.prototype, "x400Address", void 0);
__decorate([
    AsnProp({
        type: Name,
        context: 4,
        implicit: false,
    })
], GeneralName.prototype, "directoryName", void 0);
__decorate([
    AsnProp({
        type: EDIPartyName,
        context: 5,
    })
], GeneralName.prototype, "ediPartyName", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.IA5String,
        context: 6,
        implicit: true,
    })
], GeneralName.prototype, "uniformResourceIdentifier", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.OctetString,
        context: 7,
        implicit: true,
        converter: AsnIpConverter,
    })
], GeneralName.prototype, "iPAddress", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.ObjectIdentifier,
        context: 8,
        implicit: true,
    })
], GeneralName.prototype, "registeredID", void 0);
GeneralName = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], GeneralName);

var AuthorityInfoAccessSyntax_1;
class AccessDescription {
    accessMethod = "";
    accessLocation = new GeneralName();
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], AccessDescription.prototype, "accessMethod", void 0);
__decorate([
    AsnProp({ type: GeneralName })
], AccessDescription.prototype, "accessLocation", void 0);
let AuthorityInfoAccessSyntax = AuthorityInfoAccessSyntax_1 = class AuthorityInfoAccessSyntax extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, AuthorityInfoAccessSyntax_1.prototype);
    }
};
AuthorityInfoAccessSyntax = AuthorityInfoAccessSyntax_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: AccessDescription,
    })
], AuthorityInfoAccessSyntax);

class KeyIdentifier extends OctetString {
}
class AuthorityKeyIdentifier {
    keyIdentifier;
    authorityCertIssuer;
    authorityCertSerialNumber;
    constructor(params = {}) {
        if (params) {
            Object.assign(this, params);
        }
    }
}
__decorate([
    AsnProp({
        type: KeyIdentifier,
        context: 0,
        optional: true,
        implicit: true,
    })
], AuthorityKeyIdentifier.prototype, "keyIdentifier", void 0);
__decorate([
    AsnProp({
        type: GeneralName,
        context: 1,
        optional: true,
        implicit: true,
        repeated: "sequence",
    })
], AuthorityKeyIdentifier.prototype, "authorityCertIssuer", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        context: 2,
        optional: true,
        implicit: true,
        converter: AsnIntegerArrayBufferConverter,
    })
], AuthorityKeyIdentifier.prototype, "authorityCertSerialNumber", void 0);

class BasicConstraints {
    cA = false;
    pathLenConstraint;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: AsnPropTypes.Boolean,
        defaultValue: false,
    })
], BasicConstraints.prototype, "cA", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        optional: true,
    })
], BasicConstraints.prototype, "pathLenConstraint", void 0);

var GeneralNames_1;
let GeneralNames = GeneralNames_1 = class GeneralNames extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, GeneralNames_1.prototype);
    }
};
GeneralNames = GeneralNames_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: GeneralName,
    })
], GeneralNames);

var CertificateIssuer_1;
let CertificateIssuer = CertificateIssuer_1 = class CertificateIssuer extends GeneralNames {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, CertificateIssuer_1.prototype);
    }
};
CertificateIssuer = CertificateIssuer_1 = __decorate([
    AsnType({ type: AsnTypeTypes.Sequence })
], CertificateIssuer);

var CertificatePolicies_1;
let DisplayText = class DisplayText {
    ia5String;
    visibleString;
    bmpString;
    utf8String;
    constructor(params = {}) {
        Object.assign(this, params);
    }
    toString() {
        return this.ia5String || this.visibleString || this.bmpString || this.utf8String || "";
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.IA5String })
], DisplayText.prototype, "ia5String", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.VisibleString })
], DisplayText.prototype, "visibleString", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.BmpString })
], DisplayText.prototype, "bmpString", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.Utf8String })
], DisplayText.prototype, "utf8String", void 0);
DisplayText = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], DisplayText);
class NoticeReference {
    organization = new DisplayText();
    noticeNumbers = [];
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: DisplayText })
], NoticeReference.prototype, "organization", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        repeated: "sequence",
    })
], NoticeReference.prototype, "noticeNumbers", void 0);
class UserNotice {
    noticeRef;
    explicitText;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: NoticeReference,
        optional: true,
    })
], UserNotice.prototype, "noticeRef", void 0);
__decorate([
    AsnProp({
        type: DisplayText,
        optional: true,
    })
], UserNotice.prototype, "explicitText", void 0);
let Qualifier = class Qualifier {
    cPSuri;
    userNotice;
    constructor(params = {}) {
        Object.assign(this, params);
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.IA5String })
], Qualifier.prototype, "cPSuri", void 0);
__decorate([
    AsnProp({ type: UserNotice })
], Qualifier.prototype, "userNotice", void 0);
Qualifier = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], Qualifier);
class PolicyQualifierInfo {
    policyQualifierId = "";
    qualifier = new ArrayBuffer(0);
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], PolicyQualifierInfo.prototype, "policyQualifierId", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.Any })
], PolicyQualifierInfo.prototype, "qualifier", void 0);
class PolicyInformation {
    policyIdentifier = "";
    policyQualifiers;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], PolicyInformation.prototype, "policyIdentifier", void 0);
__decorate([
    AsnProp({
        type: PolicyQualifierInfo,
        repeated: "sequence",
        optional: true,
    })
], PolicyInformation.prototype, "policyQualifiers", void 0);
let CertificatePolicies = CertificatePolicies_1 = class CertificatePolicies extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, CertificatePolicies_1.prototype);
    }
};
CertificatePolicies = CertificatePolicies_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: PolicyInformation,
    })
], CertificatePolicies);

let CRLNumber = class CRLNumber {
    value;
    constructor(value = 0) {
        this.value = value;
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.Integer })
], CRLNumber.prototype, "value", void 0);
CRLNumber = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], CRLNumber);

let BaseCRLNumber = class BaseCRLNumber extends CRLNumber {
};
BaseCRLNumber = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], BaseCRLNumber);

var CRLDistributionPoints_1;
var ReasonFlags;
(function (ReasonFlags) {
    ReasonFlags[ReasonFlags["unused"] = 1] = "unused";
    ReasonFlags[ReasonFlags["keyCompromise"] = 2] = "keyCompromise";
    ReasonFlags[ReasonFlags["cACompromise"] = 4] = "cACompromise";
    ReasonFlags[ReasonFlags["affiliationChanged"] = 8] = "affiliationChanged";
    ReasonFlags[ReasonFlags["superseded"] = 16] = "superseded";
    ReasonFlags[ReasonFlags["cessationOfOperation"] = 32] = "cessationOfOperation";
    ReasonFlags[ReasonFlags["certificateHold"] = 64] = "certificateHold";
    ReasonFlags[ReasonFlags["privilegeWithdrawn"] = 128] = "privilegeWithdrawn";
    ReasonFlags[ReasonFlags["aACompromise"] = 256] = "aACompromise";
})(ReasonFlags || (ReasonFlags = {}));
class Reason extends BitString {
    toJSON() {
        const res = [];
        const flags = this.toNumber();
        if (flags & ReasonFlags.aACompromise) {
            res.push("aACompromise");
        }
        if (flags & ReasonFlags.affiliationChanged) {
            res.push("affiliationChanged");
        }
        if (flags & ReasonFlags.cACompromise) {
            res.push("cACompromise");
        }
        if (flags & ReasonFlags.certificateHold) {
            res.push("certificateHold");
        }
        if (flags & ReasonFlags.cessationOfOperation) {
            res.push("cessationOfOperation");
        }
        if (flags & ReasonFlags.keyCompromise) {
            res.push("keyCompromise");
        }
        if (flags & ReasonFlags.privilegeWithdrawn) {
            res.push("privilegeWithdrawn");
        }
        if (flags & ReasonFlags.superseded) {
            res.push("superseded");
        }
        if (flags & ReasonFlags.unused) {
            res.push("unused");
        }
        return res;
    }
    toString() {
        return `[${this.toJSON().join(", ")}]`;
    }
}
let DistributionPointName = class DistributionPointName {
    fullName;
    nameRelativeToCRLIssuer;
    constructor(params = {}) {
        Object.assign(this, params);
    }
};
__decorate([
    AsnProp({
        type: GeneralName,
        context: 0,
        repeated: "sequence",
        implicit: true,
    })
], DistributionPointName.prototype, "fullName", void 0);
__decorate([
    AsnProp({
        type: RelativeDistinguishedName,
        context: 1,
        implicit: true,
    })
], DistributionPointName.prototype, "nameRelativeToCRLIssuer", void 0);
DistributionPointName = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], DistributionPointName);
class DistributionPoint {
    distributionPoint;
    reasons;
    cRLIssuer;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: DistributionPointName,
        context: 0,
        optional: true,
    })
], DistributionPoint.prototype, "distributionPoint", void 0);
__decorate([
    AsnProp({
        type: Reason,
        context: 1,
        optional: true,
        implicit: true,
    })
], DistributionPoint.prototype, "reasons", void 0);
__decorate([
    AsnProp({
        type: GeneralName,
        context: 2,
        optional: true,
        repeated: "sequence",
        implicit: true,
    })
], DistributionPoint.prototype, "cRLIssuer", void 0);
let CRLDistributionPoints = CRLDistributionPoints_1 = class CRLDistributionPoints extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, CRLDistributionPoints_1.prototype);
    }
};
CRLDistributionPoints = CRLDistributionPoints_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: DistributionPoint,
    })
], CRLDistributionPoints);

var FreshestCRL_1;
let FreshestCRL = FreshestCRL_1 = class FreshestCRL extends CRLDistributionPoints {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, FreshestCRL_1.prototype);
    }
};
FreshestCRL = FreshestCRL_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: DistributionPoint,
    })
], FreshestCRL);

class IssuingDistributionPoint {
    static ONLY = false;
    distributionPoint;
    onlyContainsUserCerts = IssuingDistributionPoint.ONLY;
    onlyContainsCACerts = IssuingDistributionPoint.ONLY;
    onlySomeReasons;
    indirectCRL = IssuingDistributionPoint.ONLY;
    onlyContainsAttributeCerts = IssuingDistributionPoint.ONLY;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: DistributionPointName,
        context: 0,
        optional: true,
    })
], IssuingDistributionPoint.prototype, "distributionPoint", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Boolean,
        context: 1,
        defaultValue: IssuingDistributionPoint.ONLY,
        implicit: true,
    })
], IssuingDistributionPoint.prototype, "onlyContainsUserCerts", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Boolean,
        context: 2,
        defaultValue: IssuingDistributionPoint.ONLY,
        implicit: true,
    })
], IssuingDistributionPoint.prototype, "onlyContainsCACerts", void 0);
__decorate([
    AsnProp({
        type: Reason,
        context: 3,
        optional: true,
        implicit: true,
    })
], IssuingDistributionPoint.prototype, "onlySomeReasons", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Boolean,
        context: 4,
        defaultValue: IssuingDistributionPoint.ONLY,
        implicit: true,
    })
], IssuingDistributionPoint.prototype, "indirectCRL", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Boolean,
        context: 5,
        defaultValue: IssuingDistributionPoint.ONLY,
        implicit: true,
    })
], IssuingDistributionPoint.prototype, "onlyContainsAttributeCerts", void 0);

var CRLReasons;
(function (CRLReasons) {
    CRLReasons[CRLReasons["unspecified"] = 0] = "unspecified";
    CRLReasons[CRLReasons["keyCompromise"] = 1] = "keyCompromise";
    CRLReasons[CRLReasons["cACompromise"] = 2] = "cACompromise";
    CRLReasons[CRLReasons["affiliationChanged"] = 3] = "affiliationChanged";
    CRLReasons[CRLReasons["superseded"] = 4] = "superseded";
    CRLReasons[CRLReasons["cessationOfOperation"] = 5] = "cessationOfOperation";
    CRLReasons[CRLReasons["certificateHold"] = 6] = "certificateHold";
    CRLReasons[CRLReasons["removeFromCRL"] = 8] = "removeFromCRL";
    CRLReasons[CRLReasons["privilegeWithdrawn"] = 9] = "privilegeWithdrawn";
    CRLReasons[CRLReasons["aACompromise"] = 10] = "aACompromise";
})(CRLReasons || (CRLReasons = {}));
let CRLReason = class CRLReason {
    reason = CRLReasons.unspecified;
    constructor(reason = CRLReasons.unspecified) {
        this.reason = reason;
    }
    toJSON() {
        return CRLReasons[this.reason];
    }
    toString() {
        return this.toJSON();
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.Enumerated })
], CRLReason.prototype, "reason", void 0);
CRLReason = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], CRLReason);

var ExtendedKeyUsage_1;
let ExtendedKeyUsage = ExtendedKeyUsage_1 = class ExtendedKeyUsage extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, ExtendedKeyUsage_1.prototype);
    }
};
ExtendedKeyUsage = ExtendedKeyUsage_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: AsnPropTypes.ObjectIdentifier,
    })
], ExtendedKeyUsage);

let InhibitAnyPolicy = class InhibitAnyPolicy {
    value;
    constructor(value = new ArrayBuffer(0)) {
        this.value = value;
    }
};
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        converter: AsnIntegerArrayBufferConverter,
    })
], InhibitAnyPolicy.prototype, "value", void 0);
InhibitAnyPolicy = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], InhibitAnyPolicy);

let InvalidityDate = class InvalidityDate {
    value = new Date();
    constructor(value) {
        if (value) {
            this.value = value;
        }
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.GeneralizedTime })
], InvalidityDate.prototype, "value", void 0);
InvalidityDate = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], InvalidityDate);

var IssueAlternativeName_1;
let IssueAlternativeName = IssueAlternativeName_1 = class IssueAlternativeName extends GeneralNames {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, IssueAlternativeName_1.prototype);
    }
};
IssueAlternativeName = IssueAlternativeName_1 = __decorate([
    AsnType({ type: AsnTypeTypes.Sequence })
], IssueAlternativeName);

var KeyUsageFlags;
(function (KeyUsageFlags) {
    KeyUsageFlags[KeyUsageFlags["digitalSignature"] = 1] = "digitalSignature";
    KeyUsageFlags[KeyUsageFlags["nonRepudiation"] = 2] = "nonRepudiation";
    KeyUsageFlags[KeyUsageFlags["keyEncipherment"] = 4] = "keyEncipherment";
    KeyUsageFlags[KeyUsageFlags["dataEncipherment"] = 8] = "dataEncipherment";
    KeyUsageFlags[KeyUsageFlags["keyAgreement"] = 16] = "keyAgreement";
    KeyUsageFlags[KeyUsageFlags["keyCertSign"] = 32] = "keyCertSign";
    KeyUsageFlags[KeyUsageFlags["cRLSign"] = 64] = "cRLSign";
    KeyUsageFlags[KeyUsageFlags["encipherOnly"] = 128] = "encipherOnly";
    KeyUsageFlags[KeyUsageFlags["decipherOnly"] = 256] = "decipherOnly";
})(KeyUsageFlags || (KeyUsageFlags = {}));

var GeneralSubtrees_1;
class GeneralSubtree {
    base = new GeneralName();
    minimum = 0;
    maximum;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: GeneralName })
], GeneralSubtree.prototype, "base", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        context: 0,
        defaultValue: 0,
        implicit: true,
    })
], GeneralSubtree.prototype, "minimum", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        context: 1,
        optional: true,
        implicit: true,
    })
], GeneralSubtree.prototype, "maximum", void 0);
let GeneralSubtrees = GeneralSubtrees_1 = class GeneralSubtrees extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, GeneralSubtrees_1.prototype);
    }
};
GeneralSubtrees = GeneralSubtrees_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: GeneralSubtree,
    })
], GeneralSubtrees);
class NameConstraints {
    permittedSubtrees;
    excludedSubtrees;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: GeneralSubtrees,
        context: 0,
        optional: true,
        implicit: true,
    })
], NameConstraints.prototype, "permittedSubtrees", void 0);
__decorate([
    AsnProp({
        type: GeneralSubtrees,
        context: 1,
        optional: true,
        implicit: true,
    })
], NameConstraints.prototype, "excludedSubtrees", void 0);

class PolicyConstraints {
    requireExplicitPolicy;
    inhibitPolicyMapping;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        context: 0,
        implicit: true,
        optional: true,
        converter: AsnIntegerArrayBufferConverter,
    })
], PolicyConstraints.prototype, "requireExplicitPolicy", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        context: 1,
        implicit: true,
        optional: true,
        converter: AsnIntegerArrayBufferConverter,
    })
], PolicyConstraints.prototype, "inhibitPolicyMapping", void 0);

var PolicyMappings_1;
class PolicyMapping {
    issuerDomainPolicy = "";
    subjectDomainPolicy = "";
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], PolicyMapping.prototype, "issuerDomainPolicy", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], PolicyMapping.prototype, "subjectDomainPolicy", void 0);
let PolicyMappings = PolicyMappings_1 = class PolicyMappings extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, PolicyMappings_1.prototype);
    }
};
PolicyMappings = PolicyMappings_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: PolicyMapping,
    })
], PolicyMappings);

var SubjectAlternativeName_1;
let SubjectAlternativeName = SubjectAlternativeName_1 = class SubjectAlternativeName extends GeneralNames {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, SubjectAlternativeName_1.prototype);
    }
};
SubjectAlternativeName = SubjectAlternativeName_1 = __decorate([
    AsnType({ type: AsnTypeTypes.Sequence })
], SubjectAlternativeName);

class Attribute {
    type = "";
    values = [];
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], Attribute.prototype, "type", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Any,
        repeated: "set",
    })
], Attribute.prototype, "values", void 0);

var SubjectDirectoryAttributes_1;
let SubjectDirectoryAttributes = SubjectDirectoryAttributes_1 = class SubjectDirectoryAttributes extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, SubjectDirectoryAttributes_1.prototype);
    }
};
SubjectDirectoryAttributes = SubjectDirectoryAttributes_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: Attribute,
    })
], SubjectDirectoryAttributes);

class PrivateKeyUsagePeriod {
    notBefore;
    notAfter;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: AsnPropTypes.GeneralizedTime,
        context: 0,
        implicit: true,
        optional: true,
    })
], PrivateKeyUsagePeriod.prototype, "notBefore", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.GeneralizedTime,
        context: 1,
        implicit: true,
        optional: true,
    })
], PrivateKeyUsagePeriod.prototype, "notAfter", void 0);

var EntrustInfoFlags;
(function (EntrustInfoFlags) {
    EntrustInfoFlags[EntrustInfoFlags["keyUpdateAllowed"] = 1] = "keyUpdateAllowed";
    EntrustInfoFlags[EntrustInfoFlags["newExtensions"] = 2] = "newExtensions";
    EntrustInfoFlags[EntrustInfoFlags["pKIXCertificate"] = 4] = "pKIXCertificate";
})(EntrustInfoFlags || (EntrustInfoFlags = {}));
class EntrustInfo extends BitString {
    toJSON() {
        const res = [];
        const flags = this.toNumber();
        if (flags & EntrustInfoFlags.pKIXCertificate) {
            res.push("pKIXCertificate");
        }
        if (flags & EntrustInfoFlags.newExtensions) {
            res.push("newExtensions");
        }
        if (flags & EntrustInfoFlags.keyUpdateAllowed) {
            res.push("keyUpdateAllowed");
        }
        return res;
    }
    toString() {
        return `[${this.toJSON().join(", ")}]`;
    }
}
class EntrustVersionInfo {
    entrustVers = "";
    entrustInfoFlags = new EntrustInfo();
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.GeneralString })
], EntrustVersionInfo.prototype, "entrustVers", void 0);
__decorate([
    AsnProp({ type: EntrustInfo })
], EntrustVersionInfo.prototype, "entrustInfoFlags", void 0);

var SubjectInfoAccessSyntax_1;
let SubjectInfoAccessSyntax = SubjectInfoAccessSyntax_1 = class SubjectInfoAccessSyntax extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, SubjectInfoAccessSyntax_1.prototype);
    }
};
SubjectInfoAccessSyntax = SubjectInfoAccessSyntax_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: AccessDescription,
    })
], SubjectInfoAccessSyntax);

class AlgorithmIdentifier {
    algorithm = "";
    parameters;
    constructor(params = {}) {
        Object.assign(this, params);
    }
    isEqual(data) {
        return (data instanceof AlgorithmIdentifier &&
            data.algorithm == this.algorithm &&
            ((data.parameters && this.parameters && equal(data.parameters, this.parameters)) || data.parameters === this.parameters));
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], AlgorithmIdentifier.prototype, "algorithm", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Any,
        optional: true,
    })
], AlgorithmIdentifier.prototype, "parameters", void 0);

class SubjectPublicKeyInfo {
    algorithm = new AlgorithmIdentifier();
    subjectPublicKey = new ArrayBuffer(0);
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AlgorithmIdentifier })
], SubjectPublicKeyInfo.prototype, "algorithm", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.BitString })
], SubjectPublicKeyInfo.prototype, "subjectPublicKey", void 0);

let Time = class Time {
    utcTime;
    generalTime;
    constructor(time) {
        if (time) {
            if (typeof time === "string" || typeof time === "number" || time instanceof Date) {
                const date = new Date(time);
                date.setUTCMilliseconds(0);
                if (date.getUTCFullYear() > 2049) {
                    this.generalTime = date;
                }
                else {
                    this.utcTime = date;
                }
            }
            else {
                Object.assign(this, time);
            }
        }
    }
    getTime() {
        const time = this.utcTime || this.generalTime;
        if (!time) {
            throw new Error("Cannot get time from CHOICE object");
        }
        return time;
    }
};
__decorate([
    AsnProp({ type: AsnPropTypes.UTCTime })
], Time.prototype, "utcTime", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.GeneralizedTime })
], Time.prototype, "generalTime", void 0);
Time = __decorate([
    AsnType({ type: AsnTypeTypes.Choice })
], Time);

class Validity {
    notBefore = new Time(new Date());
    notAfter = new Time(new Date());
    constructor(params) {
        if (params) {
            this.notBefore = new Time(params.notBefore);
            this.notAfter = new Time(params.notAfter);
        }
    }
}
__decorate([
    AsnProp({ type: Time })
], Validity.prototype, "notBefore", void 0);
__decorate([
    AsnProp({ type: Time })
], Validity.prototype, "notAfter", void 0);

var Extensions_1;
class Extension {
    static CRITICAL = false;
    extnID = "";
    critical = Extension.CRITICAL;
    extnValue = new OctetString();
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.ObjectIdentifier })
], Extension.prototype, "extnID", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Boolean,
        defaultValue: Extension.CRITICAL,
    })
], Extension.prototype, "critical", void 0);
__decorate([
    AsnProp({ type: OctetString })
], Extension.prototype, "extnValue", void 0);
let Extensions = Extensions_1 = class Extensions extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, Extensions_1.prototype);
    }
};
Extensions = Extensions_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: Extension,
    })
], Extensions);

var Version;
(function (Version) {
    Version[Version["v1"] = 0] = "v1";
    Version[Version["v2"] = 1] = "v2";
    Version[Version["v3"] = 2] = "v3";
})(Version || (Version = {}));

class TBSCertificate {
    version = Version.v1;
    serialNumber = new ArrayBuffer(0);
    signature = new AlgorithmIdentifier();
    issuer = new Name();
    validity = new Validity();
    subject = new Name();
    subjectPublicKeyInfo = new SubjectPublicKeyInfo();
    issuerUniqueID;
    subjectUniqueID;
    extensions;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        context: 0,
        defaultValue: Version.v1,
    })
], TBSCertificate.prototype, "version", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        converter: AsnIntegerArrayBufferConverter,
    })
], TBSCertificate.prototype, "serialNumber", void 0);
__decorate([
    AsnProp({ type: AlgorithmIdentifier })
], TBSCertificate.prototype, "signature", void 0);
__decorate([
    AsnProp({ type: Name })
], TBSCertificate.prototype, "issuer", void 0);
__decorate([
    AsnProp({ type: Validity })
], TBSCertificate.prototype, "validity", void 0);
__decorate([
    AsnProp({ type: Name })
], TBSCertificate.prototype, "subject", void 0);
__decorate([
    AsnProp({ type: SubjectPublicKeyInfo })
], TBSCertificate.prototype, "subjectPublicKeyInfo", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.BitString,
        context: 1,
        implicit: true,
        optional: true,
    })
], TBSCertificate.prototype, "issuerUniqueID", void 0);
__decorate([
    AsnProp({
        type: AsnPropTypes.BitString,
        context: 2,
        implicit: true,
        optional: true,
    })
], TBSCertificate.prototype, "subjectUniqueID", void 0);
__decorate([
    AsnProp({
        type: Extensions,
        context: 3,
        optional: true,
    })
], TBSCertificate.prototype, "extensions", void 0);

class Certificate {
    tbsCertificate = new TBSCertificate();
    tbsCertificateRaw;
    signatureAlgorithm = new AlgorithmIdentifier();
    signatureValue = new ArrayBuffer(0);
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: TBSCertificate,
        raw: true,
    })
], Certificate.prototype, "tbsCertificate", void 0);
__decorate([
    AsnProp({ type: AlgorithmIdentifier })
], Certificate.prototype, "signatureAlgorithm", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.BitString })
], Certificate.prototype, "signatureValue", void 0);

class RevokedCertificate {
    userCertificate = new ArrayBuffer(0);
    revocationDate = new Time();
    crlEntryExtensions;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        converter: AsnIntegerArrayBufferConverter,
    })
], RevokedCertificate.prototype, "userCertificate", void 0);
__decorate([
    AsnProp({ type: Time })
], RevokedCertificate.prototype, "revocationDate", void 0);
__decorate([
    AsnProp({
        type: Extension,
        optional: true,
        repeated: "sequence",
    })
], RevokedCertificate.prototype, "crlEntryExtensions", void 0);
class TBSCertList {
    version;
    signature = new AlgorithmIdentifier();
    issuer = new Name();
    thisUpdate = new Time();
    nextUpdate;
    revokedCertificates;
    crlExtensions;
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: AsnPropTypes.Integer,
        optional: true,
    })
], TBSCertList.prototype, "version", void 0);
__decorate([
    AsnProp({ type: AlgorithmIdentifier })
], TBSCertList.prototype, "signature", void 0);
__decorate([
    AsnProp({ type: Name })
], TBSCertList.prototype, "issuer", void 0);
__decorate([
    AsnProp({ type: Time })
], TBSCertList.prototype, "thisUpdate", void 0);
__decorate([
    AsnProp({
        type: Time,
        optional: true,
    })
], TBSCertList.prototype, "nextUpdate", void 0);
__decorate([
    AsnProp({
        type: RevokedCertificate,
        repeated: "sequence",
        optional: true,
    })
], TBSCertList.prototype, "revokedCertificates", void 0);
__decorate([
    AsnProp({
        type: Extension,
        optional: true,
        context: 0,
        repeated: "sequence",
    })
], TBSCertList.prototype, "crlExtensions", void 0);

class CertificateList {
    tbsCertList = new TBSCertList();
    tbsCertListRaw;
    signatureAlgorithm = new AlgorithmIdentifier();
    signature = new ArrayBuffer(0);
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: TBSCertList,
        raw: true,
    })
], CertificateList.prototype, "tbsCertList", void 0);
__decorate([
    AsnProp({ type: AlgorithmIdentifier })
], CertificateList.prototype, "signatureAlgorithm", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.BitString })
], CertificateList.prototype, "signature", void 0);

var Attributes_1;
let Attributes = Attributes_1 = class Attributes extends AsnArray {
    constructor(items) {
        super(items);
        Object.setPrototypeOf(this, Attributes_1.prototype);
    }
};
Attributes = Attributes_1 = __decorate([
    AsnType({
        type: AsnTypeTypes.Sequence,
        itemType: Attribute,
    })
], Attributes);

class CertificationRequestInfo {
    version = 0;
    subject = new Name();
    subjectPKInfo = new SubjectPublicKeyInfo();
    attributes = new Attributes();
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({ type: AsnPropTypes.Integer })
], CertificationRequestInfo.prototype, "version", void 0);
__decorate([
    AsnProp({ type: Name })
], CertificationRequestInfo.prototype, "subject", void 0);
__decorate([
    AsnProp({ type: SubjectPublicKeyInfo })
], CertificationRequestInfo.prototype, "subjectPKInfo", void 0);
__decorate([
    AsnProp({
        type: Attributes,
        implicit: true,
        context: 0,
        optional: true,
    })
], CertificationRequestInfo.prototype, "attributes", void 0);

class CertificationRequest {
    certificationRequestInfo = new CertificationRequestInfo();
    certificationRequestInfoRaw;
    signatureAlgorithm = new AlgorithmIdentifier();
    signature = new ArrayBuffer(0);
    constructor(params = {}) {
        Object.assign(this, params);
    }
}
__decorate([
    AsnProp({
        type: CertificationRequestInfo,
        raw: true,
    })
], CertificationRequest.prototype, "certificationRequestInfo", void 0);
__decorate([
    AsnProp({ type: AlgorithmIdentifier })
], CertificationRequest.prototype, "signatureAlgorithm", void 0);
__decorate([
    AsnProp({ type: AsnPropTypes.BitString })
], CertificationRequest.prototype, "signature", void 0);

// What a signer outside this process hands back (a PKCS#11 token, AWS KMS, a signer program) is
// checked before the certificate around it is journaled or written: the one implementation of that
// check, used by the start-up test signature, by the worker threads that seal batches and by the
// main thread where there are none. Three faults, each named as such:
//   - not a well-formed signature: not a DER Ecdsa-Sig-Value for ECDSA (raw r‖s is the usual
//     mistake), not exactly the key's length for RSA and Ed25519;
//   - a repeated signature: the same bytes it handed back for an earlier request (a caching
//     wrapper, a replay); noted on the main thread, which sees every answer (HandedBack);
//   - signed by another key: well formed, but it does not verify with the fleet CA's public key.
// docs/signer-checks.md says what each signer kind gets and what the check costs.
/** Bytes of the EC field (and so at most of r and s) per curve, by node's curve names. */
const EC_FIELD_BYTES = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };
const ED25519_SIGNATURE_BYTES = 64;
const shapes = new WeakMap();
function shapeOf(publicKey) {
    let shape = shapes.get(publicKey);
    if (!shape) {
        const details = publicKey.asymmetricKeyDetails ?? {};
        const rsaBytes = Math.ceil((details.modulusLength ?? 0) / 8);
        shape =
            publicKey.asymmetricKeyType === 'ec'
                ? { kind: 'ec', field: EC_FIELD_BYTES[details.namedCurve ?? ''] ?? 66 }
                : publicKey.asymmetricKeyType === 'ed25519'
                    ? { kind: 'bytes', bytes: ED25519_SIGNATURE_BYTES, what: 'an Ed25519 signature' }
                    : publicKey.asymmetricKeyType === 'rsa'
                        ? { kind: 'bytes', bytes: rsaBytes, what: `an RSA signature of this ${rsaBytes * 8}-bit key` }
                        : { kind: 'any' };
        shapes.set(publicKey, shape);
    }
    return shape;
}
/** Why `signature` cannot be a signature of `publicKey`'s kind at all, or undefined when its shape is right. */
function signatureShapeProblem(publicKey, signature) {
    const shape = shapeOf(publicKey);
    if (shape.kind === 'ec') {
        const problem = ecdsaDerProblem(signature, shape.field);
        if (problem === undefined)
            return undefined;
        const raw = signature.length === 2 * shape.field && signature[0] !== 0x30 ? `: ${signature.length} bytes, probably raw r‖s, which must be converted to DER` : ` (${problem})`;
        return `not a well-formed signature: not a DER Ecdsa-Sig-Value${raw}`;
    }
    if (shape.kind === 'bytes' && signature.length !== shape.bytes)
        return `not a well-formed signature: ${signature.length} bytes, where ${shape.what} has ${shape.bytes}`;
    return undefined;
}
/**
 * Strict DER of SEQUENCE { r INTEGER, s INTEGER } (X.690 §8.3, §10.1): definite minimal lengths,
 * minimal positive non-zero integers of at most the field's size, nothing after the SEQUENCE.
 */
function ecdsaDerProblem(signature, fieldBytes) {
    if (signature.length === 0)
        return 'empty';
    if (signature[0] !== 0x30)
        return `it starts with 0x${hex(signature[0])}, not a SEQUENCE`;
    const header = derLength(signature, 1);
    if (!header)
        return 'the SEQUENCE length is not minimal DER';
    if (header.start + header.length !== signature.length)
        return `the SEQUENCE says ${header.length} bytes, ${signature.length - header.start} follow`;
    let at = header.start;
    for (const name of ['r', 's']) {
        if (signature[at] !== 0x02)
            return `${name} is not an INTEGER`;
        const integer = derLength(signature, at + 1);
        if (!integer || integer.start + integer.length > signature.length)
            return `${name}'s length is not minimal DER or runs past the end`;
        const first = signature[integer.start] ?? 0;
        const second = signature[integer.start + 1] ?? 0;
        if (integer.length === 0)
            return `${name} is empty`;
        if (first & 0x80)
            return `${name} is negative`;
        if (first === 0 && (integer.length === 1 || (second & 0x80) === 0))
            return `${name} is zero or not minimally encoded`;
        if (integer.length - (first === 0 ? 1 : 0) > fieldBytes)
            return `${name} is longer than the curve's ${fieldBytes} bytes`;
        at = integer.start + integer.length;
    }
    return at === signature.length ? undefined : 'bytes follow s inside the SEQUENCE';
}
/** A DER definite length at `at`: short form, or long form in the fewest bytes (1 or 2 here). */
function derLength(bytes, at) {
    const first = bytes[at];
    if (first === undefined)
        return undefined;
    if (first < 0x80)
        return { start: at + 1, length: first };
    if (first === 0x81) {
        const length = bytes[at + 1];
        return length !== undefined && length >= 0x80 ? { start: at + 2, length } : undefined;
    }
    if (first === 0x82) {
        const length = ((bytes[at + 1] ?? 0) << 8) | (bytes[at + 2] ?? 0);
        return length >= 0x100 ? { start: at + 3, length } : undefined;
    }
    return undefined;
}
const hex = (byte) => (byte ?? 0).toString(16).padStart(2, '0');
/**
 * Why `signature` is not the fleet CA's signature over `message`, or undefined when it is: its
 * shape first (the clearer message), then node:crypto's verification with the CA's public key.
 */
function signatureProblem(publicKey, hash, message, signature) {
    const shape = signatureShapeProblem(publicKey, signature);
    if (shape)
        return shape;
    let valid;
    try {
        valid = verify(hash, message, publicKey, signature);
    }
    catch (error) {
        return `not a well-formed signature (${messageOf(error)})`;
    }
    return valid ? undefined : "signed by another key (or over other bytes): it does not verify with the fleet CA certificate's public key";
}
/** The error that stops the run when `device`'s signature from `signer` is bad. */
function badSignatureError(signer, serial, problem) {
    return new FleetCaError(`fleet-ca-key: ${signer} handed back a bad signature for device ${serial}: ${problem}. ` +
        'Nothing was recorded as issued for it; certificates journaled before it are valid. Fix the signer and run again: the run resumes.', { input: 'fleet-ca-key', serial });
}

// Reading an input file whole, within a budget. A path given as an input, or named by a manifest
// row, may be a FIFO (opening it for reading would wait for a writer forever), a device such as
// /dev/zero (reading never ends), or a file far larger than anything credbake needs (reading it
// exhausts memory, or ends in V8's "Cannot create a string longer than ..."). So: open without
// blocking, fstat the open descriptor (what is read is what was checked), refuse anything but a
// regular file, refuse a size over the cap before reading a byte, and stop reading at the cap
// even if the size was wrong (/proc files say 0, files grow).
//
// Errors are plain Errors with a `code` (ENOENT, EACCES, EISDIR from the system; ENOTREG and EFBIG
// from here) and a message that completes "X cannot be read: …", so every caller keeps its own
// message naming the input. docs/input-limits.md lists the caps.
const KiB = 1024;
const MiB = 1024 * KiB;
/** The caps, in bytes. Each is documented (with its reason) in docs/input-limits.md. */
const INPUT_LIMITS = {
    /** Device manifest: 100,000 devices are 3-30 MiB in any format. */
    manifest: 64 * MiB,
    /** A CSR named by a manifest row: an RSA-4096 CSR with `openssl req -text` is about 5 KiB. */
    csr: 16 * KiB,
    /** fleet-ca-cert, fleet-ca-key, server-ca (file or text): a chain or a CA bundle. */
    pem: 1 * MiB,
    /** credentials-zip: OTA Connect's are a few KiB. */
    credentialsZip: 16 * MiB,
    /** A review manifest (credbake-manifest.json) or a certificates.pem read whole by verify or merge. */
    reviewFile: 256 * MiB
};
/** A file refused before or while it was read: not a regular file, or over its cap. */
class ReadLimitError extends Error {
    code;
    constructor(code, message) {
        super(message);
        this.code = code;
        this.name = 'ReadLimitError';
    }
}
/** 1.5 MiB, 16 KiB, 300 bytes. */
function formatSize(bytes) {
    if (bytes >= MiB)
        return `${Number.isInteger(bytes / MiB) ? bytes / MiB : (bytes / MiB).toFixed(1)} MiB`;
    if (bytes >= KiB)
        return `${Number.isInteger(bytes / KiB) ? bytes / KiB : (bytes / KiB).toFixed(1)} KiB`;
    return `${bytes} bytes`;
}
/** Why a file of this type cannot be read as an input ("a FIFO (named pipe)"), or undefined for a regular file. */
function kindOf$1(info) {
    if (info.isFile())
        return undefined;
    if (info.isDirectory())
        return 'a directory';
    if (info.isFIFO())
        return 'a FIFO (named pipe)';
    if (info.isCharacterDevice())
        return 'a character device';
    if (info.isBlockDevice())
        return 'a block device';
    if (info.isSocket())
        return 'a socket';
    return 'not a regular file';
}
function check(info, limit) {
    const kind = kindOf$1(info);
    if (kind === 'a directory')
        throw new ReadLimitError('EISDIR', 'it is a directory, not a file');
    if (kind !== undefined)
        throw new ReadLimitError('ENOTREG', `it is ${kind}, not a regular file; ${limit.what} must be a regular file`);
    if (info.size > limit.maxBytes)
        throw tooBig(`it is ${info.size.toLocaleString('en-US')} bytes`, limit);
}
function tooBig(what, limit) {
    return new ReadLimitError('EFBIG', `${what}; ${limit.what} may be at most ${formatSize(limit.maxBytes)}`);
}
// O_NONBLOCK: opening a FIFO does not wait for a writer (fstat then refuses it). Reads of a
// regular file are not affected by it.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;
/** The whole of `file` if it is a regular file of at most `limit.maxBytes`. */
function readBoundedSync(file, limit) {
    const fd = openSync(file, OPEN_FLAGS);
    try {
        const info = fstatSync(fd);
        check(info, limit);
        const reader = new CappedBuffer(info.size, limit);
        for (;;) {
            const room = reader.room();
            const read = readSync(fd, reader.buffer, reader.length, room, null);
            if (read === 0)
                return reader.contents();
            reader.advance(read);
        }
    }
    finally {
        closeSync(fd);
    }
}
/**
 * The buffer a file is read into: sized by fstat, plus one byte that tells a file that grew past
 * the cap from one that ends there; grown (up to the cap) when the size was wrong (a /proc file, a
 * growing file).
 */
class CappedBuffer {
    limit;
    buffer;
    length = 0;
    constructor(size, limit) {
        this.limit = limit;
        this.buffer = Buffer.allocUnsafe(Math.min(limit.maxBytes, Math.max(size, 64 * KiB)) + 1);
    }
    /** Free bytes to read into; grows the buffer first when it is full. */
    room() {
        if (this.length === this.buffer.length) {
            if (this.length > this.limit.maxBytes)
                throw tooBig(`it holds more than ${formatSize(this.limit.maxBytes)}`, this.limit);
            const larger = Buffer.allocUnsafe(Math.min(this.limit.maxBytes + 1, this.buffer.length * 2));
            this.buffer.copy(larger, 0, 0, this.length);
            this.buffer = larger;
        }
        return this.buffer.length - this.length;
    }
    advance(read) {
        this.length += read;
        if (this.length > this.limit.maxBytes)
            throw tooBig(`it holds more than ${formatSize(this.limit.maxBytes)}`, this.limit);
    }
    contents() {
        return this.buffer.subarray(0, this.length);
    }
}
/** readBoundedSync as UTF-8 text. */
function readBoundedTextSync(file, limit) {
    return readBoundedSync(file, limit).toString('utf8');
}
/** The end of "FILE …" for an input file that cannot be read: "not found", "is a FIFO (named pipe), …". */
function whyUnreadable(error) {
    if (error instanceof ReadLimitError)
        return error.message.replace(/^it /, '');
    const code = error.code;
    if (code === 'ENOENT')
        return 'not found';
    if (code === 'EISDIR')
        return 'is a directory, not a file';
    if (code === 'EACCES')
        return 'cannot be read (permission denied)';
    return `cannot be read: ${error instanceof Error ? error.message : String(error)}`;
}

// Digests used for fingerprints and key identifiers. Thin wrappers so call sites read as intent.
// crypto.hash (Node 20.12+, 21.7+) digests in one call without a Hash object: a bake takes about
// ten small digests per device. Older Nodes take the Hash object.
const oneShot = crypto.hash;
/** Lower-case hex, no separators: the form the output manifest records. Text is hashed as UTF-8. */
function sha256Hex(data) {
    return oneShot ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}
/** SHA-1 only where a standard asks for it (RFC 5280 key identifiers), never for integrity. */
function sha1(data) {
    return createHash('sha1').update(data).digest();
}

// Text that came from inputs (file-system labels, partition names, manifest values, file names,
// tool and signer output) on its way to a log. A GitHub runner reads every line a step prints to
// stdout or stderr as a possible workflow command: `::name ...::data` once leading whitespace is
// trimmed, and the legacy `##[name ...]data` anywhere in the line. A base image whose label holds
// "\n::add-mask::..." or "##[stop-commands]x" could otherwise steer the job's log. Everything
// printed goes through neutraliseOutput (the CLI console, the action's reporter, error printing);
// values embedded in messages go through escapeText/quoteText so their control characters show as
// escapes instead of breaking or hiding lines. docs/input-limits.md describes the rules.
/**
 * Characters that must never reach a log raw: C0 controls (except the tab and the line feed, which
 * output itself uses), DEL, C1 controls (U+0085 is a line break to some readers), Unicode format
 * characters (bidi embeddings, overrides and isolates, zero-width characters, U+FEFF, tags), line
 * and paragraph separators, and lone surrogates.
 */
/** The same plus the tab and the line feed: what a value embedded in a message may not carry raw. */
const UNSAFE_IN_VALUE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]|\p{Cs}/gu;
const NAMED = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
/**
 * `\n`, `\r`, `\t`, else `\uXXXX` (a surrogate pair beyond the BMP): visible, and valid JSON
 * escapes, so JSON output that goes through neutraliseOutput still parses to the same data.
 */
function escapeChar(char) {
    const named = NAMED[char];
    if (named !== undefined)
        return named;
    let escaped = '';
    for (let i = 0; i < char.length; i++)
        escaped += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return escaped;
}
/** A value for the inside of a message: every control and format character escaped visibly. */
function escapeText(value) {
    return value.replace(UNSAFE_IN_VALUE, escapeChar);
}

// CSPRNG bytes drawn from a block filled by one randomFillSync call: each randomBytes call costs
// a trip into OpenSSL, and a bake asks for two small pieces per device (a certificate serial and a
// temporary file name). The bytes are the same CSPRNG output, handed out once each.
const BLOCK$3 = 8192;
const block = Buffer.alloc(BLOCK$3);
let used = BLOCK$3;
/** `size` fresh random bytes (a copy: never shared with a later call). */
function randomChunk(size) {
    if (size > BLOCK$3)
        return randomFillSync(Buffer.alloc(size));
    if (used + size > BLOCK$3) {
        randomFillSync(block);
        used = 0;
    }
    const bytes = Buffer.from(block.subarray(used, used + size));
    block.fill(0, used, used + size);
    used += size;
    return bytes;
}

// PEM (RFC 7468) reading and writing. Reading is tolerant of what secrets stores and copy-paste do
// to PEM text (CRLF, indentation, everything on one line, literal "\n" escapes, explanatory text
// around blocks) but strict inside a block, and its errors never quote the text: it may be a key.
const BLOCK$2 = /-----BEGIN ([A-Z0-9][A-Z0-9 #]*)-----([\s\S]*?)-----END ([A-Z0-9][A-Z0-9 #]*)-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** parsePem without an origin: the blocks, or a sentence saying what is wrong (callers word the error). */
function readPemBlocks(text) {
    const normalised = normaliseNewlines(text);
    const blocks = [];
    let consumedUpTo = 0;
    // Lines are counted on from the previous block, so a bundle of 100,000 blocks reads in one pass.
    let counted = { index: 0, line: 1 };
    for (const match of normalised.matchAll(BLOCK$2)) {
        const [whole, label = '', body = '', endLabel = ''] = match;
        const start = match.index;
        counted = { index: start, line: counted.line + newlinesBetween(normalised, counted.index, start) };
        const line = counted.line;
        // A BEGIN between the previous block and this one never found its END.
        if (normalised.slice(consumedUpTo, start).includes('-----BEGIN ')) {
            return { problem: `a PEM block before line ${line} has no matching -----END ...----- line (truncated text?)` };
        }
        if (body.includes('-----BEGIN '))
            return { problem: `the ${label} block at line ${line} has no -----END ${label}----- line (truncated text?)` };
        if (endLabel !== label)
            return { problem: `the block at line ${line} begins as ${label} but ends as ${endLabel}` };
        const decoded = decodeBody(body);
        if (!decoded)
            return { problem: `the ${label} block at line ${line} is not valid base64` };
        blocks.push({ label, line, ...decoded });
        consumedUpTo = start + whole.length;
    }
    if (normalised.slice(consumedUpTo).includes('-----BEGIN '))
        return { problem: 'a PEM block has no -----END ...----- line (truncated text?)' };
    if (blocks.length === 0)
        return { problem: noBlockReason(normalised) };
    return blocks;
}
/** PEM text of one block: 64-column base64 lines and a final newline (RFC 7468 "strict"). */
function toPem(label, der) {
    const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
    const lines = [`-----BEGIN ${label}-----`];
    for (let offset = 0; offset < base64.length; offset += 64)
        lines.push(base64.slice(offset, offset + 64));
    lines.push(`-----END ${label}-----`, '');
    return lines.join('\n');
}
/** Labels of the blocks, for messages like "holds a PRIVATE KEY, expected a CERTIFICATE". */
function labelsOf(blocks) {
    return [...new Set(blocks.map((block) => block.label))].join(', ');
}
function normaliseNewlines(text) {
    // A PEM pasted into a single-line secret or env var often arrives with literal "\n" escapes.
    const unescaped = !text.includes('\n') && text.includes('\\n') ? text.replace(/\\r\\n|\\n/g, '\n') : text;
    return unescaped.replace(/\r\n?/g, '\n');
}
function decodeBody(body) {
    const headers = {};
    const base64Lines = [];
    for (const rawLine of body.split('\n')) {
        const line = rawLine.trim();
        if (line.length === 0)
            continue;
        const colon = line.indexOf(':');
        // Header lines only occur before the base64 ("Proc-Type: 4,ENCRYPTED"); base64 has no colon.
        if (colon > 0 && base64Lines.length === 0)
            headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
        else
            base64Lines.push(line);
    }
    const base64 = base64Lines.join('').replace(/\s+/g, '');
    if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64))
        return undefined;
    return { der: Buffer.from(base64, 'base64'), headers };
}
/** Newlines in text[from, to). */
function newlinesBetween(text, from, to) {
    let count = 0;
    for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1))
        count += 1;
    return count;
}
function noBlockReason(text) {
    if (text.trim().length === 0)
        return 'is empty; expected PEM text (-----BEGIN ...-----)';
    // Binary (DER) content: describe it without quoting any of it.
    if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
        return 'holds binary data, not PEM; convert DER with `openssl x509 -inform der` or `openssl pkey -inform der`';
    }
    if (text.includes('-----BEGIN'))
        return 'has a -----BEGIN line that is not a well-formed PEM header';
    return 'holds no PEM block (-----BEGIN ...-----); give the PEM text or the path of a PEM file';
}

// A lean DER encoder and reader: just the X.509 subset credbake writes and slices. Issuance builds
// every device certificate with it because an object model per certificate costs more than the
// signature itself (field notes: asn1-x509 objects ≈ 890/s vs node:crypto ≈ 2,500/s per core).
// test/issue/der-equivalence.test.ts proves the output byte-equal to @peculiar/asn1-x509's.
const TAG = {
    boolean: 0x01,
    integer: 0x02,
    bitString: 0x03,
    octetString: 0x04,
    null: 0x05,
    oid: 0x06,
    utf8String: 0x0c,
    printableString: 0x13,
    teletexString: 0x14,
    ia5String: 0x16,
    utcTime: 0x17,
    generalizedTime: 0x18,
    universalString: 0x1c,
    bmpString: 0x1e,
    sequence: 0x30,
    set: 0x31
};
class DerError extends Error {
}
// ---------------------------------------------------------------------------------------------
// Encoding
/** Tag, length and the concatenated contents, written into one buffer (no buffer per header byte). */
function tlv(tag, ...contents) {
    let length = 0;
    for (const part of contents)
        length += part.length;
    if (length >= 0x1000000)
        throw new DerError(`DER length ${length} is too large`);
    const head = length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : 5;
    const out = Buffer.allocUnsafe(head + length);
    out[0] = tag;
    if (head === 2)
        out[1] = length;
    else {
        out[1] = 0x80 | (head - 2);
        for (let at = head - 1, rest = length; at >= 2; at--, rest >>>= 8)
            out[at] = rest & 0xff;
    }
    let at = head;
    for (const part of contents) {
        out.set(part, at);
        at += part.length;
    }
    return out;
}
const sequence = (...contents) => tlv(TAG.sequence, ...contents);
/** SET OF: DER sorts the encoded elements (X.690 §11.6). */
function setOf(elements) {
    return tlv(TAG.set, ...[...elements].sort(Buffer.compare));
}
/** [n] EXPLICIT (constructed context-specific). */
const explicit = (n, ...contents) => tlv(0xa0 | n, ...contents);
/** [n] IMPLICIT on a primitive type. */
const implicitPrimitive = (n, contents) => tlv(0x80 | n, contents);
const octetString = (contents) => tlv(TAG.octetString, contents);
const bitString = (contents, unusedBits = 0) => tlv(TAG.bitString, Buffer.from([unusedBits]), contents);
const DER_TRUE = Buffer.from([TAG.boolean, 0x01, 0xff]);
const DER_NULL = Buffer.from([TAG.null, 0x00]);
function smallInteger(value) {
    if (!Number.isInteger(value) || value < 0 || value > 0x7f)
        throw new DerError(`smallInteger(${value}) out of range`);
    return Buffer.from([TAG.integer, 0x01, value]);
}
const oidCache = new Map();
/** OBJECT IDENTIFIER from dotted text; cached because profiles reuse a handful of OIDs. */
function oid(dotted) {
    const cached = oidCache.get(dotted);
    if (cached)
        return cached;
    const arcs = dotted.split('.').map((arc) => {
        if (!/^\d+$/.test(arc))
            throw new DerError(`bad OID ${dotted}`);
        return Number(arc);
    });
    const [first, second, ...rest] = arcs;
    if (first === undefined || second === undefined || first > 2)
        throw new DerError(`bad OID ${dotted}`);
    const bytes = [];
    for (const arc of [first * 40 + second, ...rest]) {
        const base128 = [arc & 0x7f];
        for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128))
            base128.unshift((value & 0x7f) | 0x80);
        bytes.push(...base128);
    }
    const encoded = tlv(TAG.oid, Buffer.from(bytes));
    oidCache.set(dotted, encoded);
    return encoded;
}
const pad2 = (n) => (n < 10 ? `0${n}` : String(n));
/**
 * X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), whole
 * seconds, always "Z".
 */
function x509Time(date) {
    const year = date.getUTCFullYear();
    if (year < 1950 || year > 9999)
        throw new DerError(`year ${year} cannot be encoded as an X.509 time`);
    const rest = pad2(date.getUTCMonth() + 1) + pad2(date.getUTCDate()) + pad2(date.getUTCHours()) + pad2(date.getUTCMinutes()) + pad2(date.getUTCSeconds());
    return year < 2050 ? tlv(TAG.utcTime, Buffer.from(`${pad2(year % 100)}${rest}Z`, 'ascii')) : tlv(TAG.generalizedTime, Buffer.from(`${year}${rest}Z`, 'ascii'));
}
function readNode(der, offset, limit = der.length) {
    const tag = der[offset];
    const first = der[offset + 1];
    if (tag === undefined || first === undefined || offset + 2 > limit)
        throw new DerError(`truncated DER at offset ${offset}`);
    if ((tag & 0x1f) === 0x1f)
        throw new DerError(`multi-byte DER tag at offset ${offset}`);
    let length = first;
    let contentStart = offset + 2;
    if (first & 0x80) {
        const count = first & 0x7f;
        if (count === 0 || count > 4)
            throw new DerError(`unsupported DER length at offset ${offset}`);
        length = 0;
        for (let i = 0; i < count; i += 1) {
            const byte = der[contentStart + i];
            if (byte === undefined)
                throw new DerError(`truncated DER length at offset ${offset}`);
            length = length * 256 + byte;
        }
        contentStart += count;
    }
    const end = contentStart + length;
    if (end > limit)
        throw new DerError(`DER element at offset ${offset} runs past its container`);
    return { tag, start: offset, contentStart, end };
}
/** The elements inside a constructed node. */
function childrenOf(der, node) {
    const children = [];
    for (let offset = node.contentStart; offset < node.end;) {
        const child = readNode(der, offset, node.end);
        children.push(child);
        offset = child.end;
    }
    return children;
}
/** The whole TLV of a node (shares memory with `der`). */
function encodingOf(der, node) {
    return der.subarray(node.start, node.end);
}
function contentsOf(der, node) {
    return der.subarray(node.contentStart, node.end);
}
/** Parses DER that must be exactly one element. */
function readSingle(der) {
    const node = readNode(der, 0);
    if (node.end !== der.length)
        throw new DerError('trailing bytes after the DER element');
    return node;
}
/** Reads a node's children and checks their count and tags; `null` in `tags` accepts any tag. */
function expectChildren(der, node, tags, what) {
    const children = childrenOf(der, node);
    if (children.length < tags.length)
        throw new DerError(`${what}: expected ${tags.length} elements, found ${children.length}`);
    tags.forEach((tag, index) => {
        if (tag !== null && children[index]?.tag !== tag)
            throw new DerError(`${what}: element ${index + 1} has an unexpected tag`);
    });
    return children;
}
/** The pieces of a SubjectPublicKeyInfo that key identifiers and descriptions need. */
function splitSpki(spkiDer) {
    const spki = readSingle(spkiDer);
    const [algorithm, key] = expectChildren(spkiDer, spki, [TAG.sequence, TAG.bitString], 'SubjectPublicKeyInfo');
    if (!algorithm || !key)
        throw new DerError('SubjectPublicKeyInfo is incomplete');
    const [algorithmOid] = expectChildren(spkiDer, algorithm, [TAG.oid], 'AlgorithmIdentifier');
    if (!algorithmOid)
        throw new DerError('AlgorithmIdentifier is empty');
    // Skip the "unused bits" octet: key identifiers hash the key bits themselves.
    return { algorithmOid: decodeOid(contentsOf(spkiDer, algorithmOid)), subjectPublicKey: spkiDer.subarray(key.contentStart + 1, key.end) };
}
function decodeOid(contents) {
    const arcs = [];
    let value = 0;
    for (const byte of contents) {
        value = value * 128 + (byte & 0x7f);
        if (!(byte & 0x80)) {
            arcs.push(value);
            value = 0;
        }
    }
    const [first = 0, ...rest] = arcs;
    const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
    return [...head, ...rest].join('.');
}

const OID = {
    ed25519: '1.3.101.112',
    ecdsaWithSha256: '1.2.840.10045.4.3.2',
    ecdsaWithSha384: '1.2.840.10045.4.3.3',
    ecdsaWithSha512: '1.2.840.10045.4.3.4',
    sha256WithRsa: '1.2.840.113549.1.1.11',
    sha384WithRsa: '1.2.840.113549.1.1.12',
    sha512WithRsa: '1.2.840.113549.1.1.13'
};
/** The X.509 extensions (and CRL entry extensions) credbake writes or reads, by name (RFC 5280 §4.2, §5.2, §5.3). */
const EXTENSION_OID = {
    subjectAltName: '2.5.29.17'};
const CURVES = {
    prime256v1: { name: 'P-256', hash: 'sha256', signatureOid: OID.ecdsaWithSha256, signatureName: 'ecdsa-with-SHA256' },
    secp384r1: { name: 'P-384', hash: 'sha384', signatureOid: OID.ecdsaWithSha384, signatureName: 'ecdsa-with-SHA384' },
    secp521r1: { name: 'P-521', hash: 'sha512', signatureOid: OID.ecdsaWithSha512, signatureName: 'ecdsa-with-SHA512' }
};
/** RSA keys below this are refused (NIST SP 800-131A; OpenSSL 3 security level 2 agrees). */
const MIN_RSA_BITS = 2048;
/**
 * Facts about a key, or a sentence saying why credbake cannot use it (unsupported algorithm,
 * curve or size). Works for private and public KeyObjects.
 */
function keyFacts(key) {
    const details = key.asymmetricKeyDetails ?? {};
    switch (key.asymmetricKeyType) {
        case 'ec': {
            const curve = CURVES[details.namedCurve ?? ''];
            if (!curve)
                return { unsupported: `EC curve ${details.namedCurve ?? '(unnamed)'} is not supported; use P-256, P-384 or P-521` };
            return {
                family: 'ec',
                description: `EC ${curve.name}`,
                hash: curve.hash,
                signatureAlgorithmName: curve.signatureName,
                // RFC 5758 §3.2: ECDSA AlgorithmIdentifiers have no parameters.
                signatureAlgorithmDer: sequence(oid(curve.signatureOid))
            };
        }
        case 'rsa': {
            const bits = details.modulusLength ?? 0;
            if (bits < MIN_RSA_BITS)
                return { unsupported: `RSA ${bits}-bit keys are too weak; use at least ${MIN_RSA_BITS} bits` };
            return {
                family: 'rsa',
                description: `RSA ${bits}`,
                hash: 'sha256',
                signatureAlgorithmName: 'sha256WithRSAEncryption',
                // RFC 4055 §5: the RSA PKCS#1 v1.5 identifiers carry an explicit NULL.
                signatureAlgorithmDer: sequence(oid(OID.sha256WithRsa), DER_NULL)
            };
        }
        case 'ed25519':
            // RFC 8410 §3: parameters absent.
            return { family: 'ed25519', description: 'Ed25519', hash: null, signatureAlgorithmName: 'Ed25519', signatureAlgorithmDer: sequence(oid(OID.ed25519)) };
        default:
            return { unsupported: `${key.asymmetricKeyType ?? 'unknown'} keys are not supported; use EC (P-256, P-384, P-521), RSA (≥ ${MIN_RSA_BITS} bits) or Ed25519` };
    }
}
function keyFamilyOf(keyType) {
    if (keyType.startsWith('ec-'))
        return 'ec';
    if (keyType.startsWith('rsa-'))
        return 'rsa';
    return 'ed25519';
}
/** Signature algorithms credbake reads (on CSRs, certificates and CRLs), and the hash node:crypto verifies them with (null: Ed25519, no separate hash). */
const SIGNATURE_HASHES = {
    [OID.ecdsaWithSha256]: 'sha256',
    [OID.ecdsaWithSha384]: 'sha384',
    [OID.ecdsaWithSha512]: 'sha512',
    [OID.sha256WithRsa]: 'sha256',
    [OID.sha384WithRsa]: 'sha384',
    [OID.sha512WithRsa]: 'sha512',
    [OID.ed25519]: null
};

// Device key pairs. What issuance needs per device is the SubjectPublicKeyInfo (for the
// certificate) and the PKCS#8 PEM (the device's pkey.pem), nothing else.
//
// EC keys (P-256, P-384) are made as a raw key pair by ECDH (`EC_KEY_generate_key`: the scalar
// comes from OpenSSL's private DRBG, the same CSPRNG generateKeyPair uses), and both encodings are
// fixed DER around the raw bytes, built here exactly as OpenSSL writes them: that skips OpenSSL 3's
// per-call encoder set-up, which costs more than the key generation itself. Ed25519 is generated by
// node:crypto and its encodings are likewise fixed bytes around the raw keys (exported as JWK,
// which takes no encoder). RSA goes through node:crypto's encoders as before.
// test/issue/keys.test.ts holds the fixed encodings to node's and `openssl pkey`'s, byte for byte.
const ID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const ID_ED25519 = '1.3.101.112';
/**
 * EC, as OpenSSL writes it (RFC 5915 inside RFC 5208): PrivateKeyInfo { version 0,
 * AlgorithmIdentifier { id-ecPublicKey, curve OID }, OCTET STRING { ECPrivateKey { version 1,
 * privateKey OCTET STRING (the scalar, left-padded with zeros to the group order's length),
 * [1] publicKey BIT STRING (uncompressed point) } } }. The [0] parameters are left out inside
 * because the AlgorithmIdentifier names the curve. SPKI: { AlgorithmIdentifier, BIT STRING point }.
 */
function ecEncoding(curveOid, scalarLength) {
    const publicLength = 1 + 2 * scalarLength;
    // Built once with zero keys, then cut where the keys go.
    const scalar = Buffer.alloc(scalarLength);
    const point = Buffer.alloc(publicLength);
    const algorithm = sequence(oid(ID_EC_PUBLIC_KEY), oid(curveOid));
    const bits = (key) => bitString(key); // no unused bits
    const publicField = explicit(1, bits(point));
    const ecPrivateKey = sequence(smallInteger(1), octetString(scalar), publicField);
    const pkcs8 = sequence(smallInteger(0), algorithm, octetString(ecPrivateKey));
    const spki = sequence(algorithm, bits(point));
    const middleStart = pkcs8.length - publicField.length; // [1] publicKey ends the structure
    return {
        pkcs8Head: pkcs8.subarray(0, middleStart - scalarLength),
        pkcs8Middle: pkcs8.subarray(middleStart, pkcs8.length - publicLength),
        spkiHead: spki.subarray(0, spki.length - publicLength),
        privateLength: scalarLength,
        publicLength
    };
}
/**
 * Ed25519 (RFC 8410): PrivateKeyInfo { version 0, { id-Ed25519 }, OCTET STRING { OCTET STRING seed } },
 * no public key inside (OpenSSL writes version 0 without it); SPKI { { id-Ed25519 }, BIT STRING key }.
 */
function ed25519Encoding() {
    const key = Buffer.alloc(32);
    const algorithm = sequence(oid(ID_ED25519));
    const pkcs8 = sequence(smallInteger(0), algorithm, octetString(octetString(key)));
    const spki = sequence(algorithm, bitString(key));
    return {
        pkcs8Head: pkcs8.subarray(0, pkcs8.length - 32),
        pkcs8Middle: Buffer.alloc(0),
        spkiHead: spki.subarray(0, spki.length - 32),
        privateLength: 32,
        publicLength: 32
    };
}
const EC_CURVES = {
    'ec-p256': { ecdhName: 'prime256v1', encoding: ecEncoding('1.2.840.10045.3.1.7', 32) },
    'ec-p384': { ecdhName: 'secp384r1', encoding: ecEncoding('1.3.132.0.34', 48) }
};
const ED25519 = ed25519Encoding();
/** Assemble both encodings; `privateKey` shorter than the field (leading zero bytes dropped) is padded. */
function assemble$1(keyType, encoding, privateKey, publicKey) {
    if (publicKey.length !== encoding.publicLength || privateKey.length > encoding.privateLength) {
        throw new Error(`internal: unexpected ${keyType} raw key lengths ${privateKey.length}/${publicKey.length}`);
    }
    const pad = encoding.privateLength - privateKey.length;
    const parts = [encoding.pkcs8Head];
    if (pad > 0)
        parts.push(Buffer.alloc(pad));
    parts.push(privateKey, encoding.pkcs8Middle);
    if (encoding.pkcs8Middle.length > 0)
        parts.push(publicKey);
    const pkcs8 = Buffer.concat(parts);
    const pem = toPem('PRIVATE KEY', pkcs8);
    pkcs8.fill(0);
    privateKey.fill(0);
    return { keyType, spkiDer: Buffer.concat([encoding.spkiHead, publicKey]), privateKeyPem: pem };
}
// One ECDH object per curve and thread: generateKeys() replaces its key pair each time.
const ecdhByCurve = new Map();
function generateEcKeyPair(keyType) {
    const curve = EC_CURVES[keyType];
    let ecdh = ecdhByCurve.get(keyType);
    if (!ecdh) {
        ecdh = createECDH(curve.ecdhName);
        ecdhByCurve.set(keyType, ecdh);
    }
    const publicKey = ecdh.generateKeys(); // uncompressed point 04 ‖ X ‖ Y
    // BN_bn2bin: a scalar below 2^(8(n-1)) comes back shorter; assemble() pads it.
    return assemble$1(keyType, curve.encoding, ecdh.getPrivateKey(), publicKey);
}
/**
 * The key pair comes out of the keygen job already DER-encoded, never as a KeyObject exported
 * afterwards: on Node 20 a JWK export of a freshly generated Ed25519 key deadlocked the thread
 * when a garbage collection during the export collected the keygen job (its destructor waits for
 * the key's mutex, which the export holds); seen once in a 50,000-key loop.
 */
function generateEd25519KeyPair() {
    const { privateKey: pkcs8, publicKey: spki } = generateKeyPairSync('ed25519', {
        publicKeyEncoding: PUBLIC_ENCODING,
        privateKeyEncoding: { type: 'pkcs8', format: 'der' }
    });
    const seedAt = pkcs8.length - ED25519.privateLength;
    if (!pkcs8.subarray(0, seedAt).equals(ED25519.pkcs8Head) || !spki.subarray(0, spki.length - ED25519.publicLength).equals(ED25519.spkiHead)) {
        throw new Error('internal: node:crypto encoded an Ed25519 key pair in an unexpected form');
    }
    const pair = assemble$1('ed25519', ED25519, Buffer.from(pkcs8.subarray(seedAt)), spki.subarray(spki.length - ED25519.publicLength));
    pkcs8.fill(0);
    return pair;
}
const isEc = (keyType) => keyType in EC_CURVES;
const RSA_BITS = { 'rsa-2048': 2048, 'rsa-3072': 3072, 'rsa-4096': 4096 };
const PUBLIC_ENCODING = { type: 'spki', format: 'der' };
const PRIVATE_ENCODING = { type: 'pkcs8', format: 'pem' };
promisify(generateKeyPair);
function generateDeviceKeyPair(keyType) {
    if (isEc(keyType))
        return generateEcKeyPair(keyType);
    if (keyType === 'ed25519')
        return generateEd25519KeyPair();
    const pair = generateKeyPairSync('rsa', {
        modulusLength: RSA_BITS[keyType],
        publicExponent: 65537,
        publicKeyEncoding: PUBLIC_ENCODING,
        privateKeyEncoding: PRIVATE_ENCODING
    });
    return { keyType, spkiDer: pair.publicKey, privateKeyPem: pair.privateKey };
}

// The typed settings object: built once from action inputs or CLI flags (src/settings/parse.ts),
// then passed to every stage. Nothing after parsing reads inputs again.
/** File extension of each compression, with the dot (image outputs end with it). */
function compressionExtension(kind) {
    return kind === 'none' ? '' : `.${kind}`;
}

// The text templates of the profile (subject, SAN): `{field}` placeholders filled from a device's
// manifest row, RFC 4514-style backslash escapes. Parsed once, rendered per device.
const PLACEHOLDER_NAME = /^[A-Za-z0-9_.-]+$/;
/** Characters `\` may escape literally; anything else after `\` must be two hex digits. */
const ESCAPABLE = new Set([',', '+', '=', '\\', '"', '<', '>', ';', '#', ' ', '{', '}', ':']);
/** Splits on unescaped `separator`, keeping escapes for parseSegments to interpret. */
function splitUnescaped(text, separator, fail) {
    const parts = [];
    let start = 0;
    for (let i = 0; i < text.length; i += 1) {
        if (text[i] === '\\')
            i += 1;
        else if (text[i] === '{') {
            // Separators inside braces belong to the (then invalid) placeholder name, not the structure.
            const close = text.indexOf('}', i);
            if (close !== -1)
                i = close;
        }
        else if (text[i] === separator) {
            parts.push(text.slice(start, i));
            start = i + 1;
        }
    }
    parts.push(text.slice(start));
    if (parts.some((part) => part.trim().length === 0))
        fail(`has an empty element between "${separator}" separators`);
    return parts;
}
/** Index of the first unescaped `char`, or -1. */
function indexOfUnescaped(text, char) {
    for (let i = 0; i < text.length; i += 1) {
        if (text[i] === '\\')
            i += 1;
        else if (text[i] === char)
            return i;
    }
    return -1;
}
/**
 * Value text → segments: unescapes, finds `{field}` placeholders and trims unescaped spaces at
 * both ends (people write "CN=x, O=y"); `\ ` keeps a space.
 */
function parseSegments(raw, fail) {
    const segments = [];
    let literal = '';
    let leading = true;
    // Unescaped spaces at the end of `literal`, dropped if nothing but spaces follows.
    let trailingSpaces = 0;
    const pushLiteral = () => {
        if (literal)
            segments.push({ literal });
        literal = '';
    };
    for (let i = 0; i < raw.length; i += 1) {
        const c = raw[i];
        if (c === '\\') {
            const next = raw[i + 1];
            if (next !== undefined && ESCAPABLE.has(next)) {
                literal += next;
                i += 1;
            }
            else if (/^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
                literal += String.fromCharCode(parseInt(raw.slice(i + 1, i + 3), 16));
                i += 2;
            }
            else {
                fail('a backslash must escape one of , + = \\ " < > ; # : space { } or two hex digits');
            }
            leading = false;
            trailingSpaces = 0;
            continue;
        }
        if (c === ' ' && leading)
            continue;
        leading = false;
        if (c === '{') {
            const close = raw.indexOf('}', i);
            const name = close === -1 ? '' : raw.slice(i + 1, close);
            if (!PLACEHOLDER_NAME.test(name)) {
                fail(`bad placeholder "${raw.slice(i, close === -1 ? undefined : close + 1)}"; use {field-name}, and \\{ for a literal brace`);
            }
            pushLiteral();
            segments.push({ field: name });
            trailingSpaces = 0;
            i = close;
            continue;
        }
        if (c === '}')
            fail('unmatched "}"; use \\} for a literal brace');
        trailingSpaces = c === ' ' ? trailingSpaces + 1 : 0;
        literal += c;
    }
    if (trailingSpaces > 0)
        literal = literal.slice(0, literal.length - trailingSpaces);
    pushLiteral();
    return segments;
}
function fieldsOf(segments) {
    return segments.flatMap((segment) => ('field' in segment ? [segment.field] : []));
}
function isConstant(segments) {
    return segments.every((segment) => 'literal' in segment);
}
function literalText(segments) {
    return segments.map((segment) => ('literal' in segment ? segment.literal : `{${segment.field}}`)).join('');
}
function unknownFieldMessage(field, known) {
    const available = [...known].sort();
    const nearMiss = available.find((name) => name.toLowerCase() === field.toLowerCase());
    return (`placeholder {${field}} is not a manifest field` +
        (nearMiss ? ` (did you mean {${nearMiss}}? names are case-sensitive)` : '') +
        `; available fields: ${available.map((name) => `{${name}}`).join(', ') || '(none)'}`);
}
/** The value for one device; an unknown placeholder is an InputError naming `input` and the row. */
function renderSegments(segments, device, input, template) {
    let value = '';
    for (const segment of segments) {
        if ('literal' in segment) {
            value += segment.literal;
            continue;
        }
        const fieldValue = device.fields[segment.field];
        if (fieldValue === undefined) {
            throw new InputError(`${input} "${template}": ${unknownFieldMessage(segment.field, Object.keys(device.fields))} (device ${device.serial}, ${device.source.file}:${device.source.line})`, { input, serial: device.serial });
        }
        value += fieldValue;
    }
    return value;
}
/**
 * The first placeholder of `segments` whose value for `device` contains `needle`, with that value;
 * undefined when none does. Tells a character written in a template from one a manifest value brings.
 */
function fieldBringing(segments, device, needle) {
    for (const segment of segments) {
        if (!('field' in segment))
            continue;
        const value = device.fields[segment.field];
        if (value?.includes(needle))
            return { field: segment.field, value };
    }
    return undefined;
}

// subjectAltName templates: "DNS:{serial}.devices.example.com,URI:urn:dev:{device-id},IP:10.0.0.1".
// Entries are separated by unescaped commas; each is TYPE:value with {field} placeholders.
const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;
const EMAIL = /^[\x21-\x3f\x41-\x7e]+@[A-Za-z0-9.-]+$/;
const KINDS = [
    { name: 'email', tag: 1, encode: (value) => (EMAIL.test(value) ? Buffer.from(value, 'ascii') : 'is not an ASCII e-mail address (local@domain)') },
    {
        name: 'DNS',
        tag: 2,
        encode: (value) => {
            const labels = value.split('.');
            const wildcard = labels[0] === '*' && labels.length > 2;
            const ok = value.length <= 253 && labels.slice(wildcard ? 1 : 0).every((label) => DNS_LABEL.test(label));
            return ok ? Buffer.from(value, 'ascii') : 'is not a DNS name (letters, digits and hyphens in dot-separated labels; IDNs in punycode)';
        }
    },
    { name: 'URI', tag: 6, encode: (value) => (URI.test(value) ? Buffer.from(value, 'ascii') : 'is not an absolute ASCII URI (scheme:rest, no spaces)') },
    { name: 'IP', tag: 7, encode: (value) => ipAddressBytes(value) ?? 'is not an IPv4 or IPv6 address' }
];
const KIND_BY_NAME = new Map(KINDS.map((kind) => [kind.name.toLowerCase(), kind]));
KIND_BY_NAME.set('rfc822', KINDS[0]);
/** Parses and checks a SAN template once; InputError naming `input` (default "san"). */
function validateSanTemplate(template, knownFields, input = 'san') {
    const fail = (message) => {
        throw new InputError(`${input} "${template}": ${message}`, { input });
    };
    if (template.trim().length === 0)
        fail('is empty; leave it unset for no subjectAltName');
    const entries = splitUnescaped(template, ',', fail).map((entryText) => {
        const colon = indexOfUnescaped(entryText, ':');
        const kindName = colon === -1 ? '' : entryText.slice(0, colon).trim();
        const kind = KIND_BY_NAME.get(kindName.toLowerCase());
        if (!kind)
            return fail(`"${entryText.trim()}" must start with DNS:, URI:, IP: or email:`);
        const segments = parseSegments(entryText.slice(colon + 1), fail);
        const entry = { kind, segments };
        if (segments.every((segment) => 'literal' in segment)) {
            const value = segments.map((segment) => ('literal' in segment ? segment.literal : '')).join('');
            const encoded = kind.encode(value);
            if (typeof encoded === 'string')
                fail(`${kind.name}:${value} ${encoded}`);
            else
                entry.constantDer = implicitPrimitive(kind.tag, encoded);
        }
        return entry;
    });
    const fields = [...new Set(entries.flatMap((entry) => fieldsOf(entry.segments)))];
    return { source: template, entries, fields };
}
/** GeneralNames DER (the extension value) for one device. */
function renderSan(template, device, input = 'san') {
    return sequence(...template.entries.map((entry) => {
        if (entry.constantDer)
            return entry.constantDer;
        const value = renderSegments(entry.segments, device, input, template.source);
        if (entry.kind.tag === DNS_TAG)
            refuseWildcardFromField(entry, device, value, input, template.source);
        const encoded = entry.kind.encode(value);
        if (typeof encoded === 'string') {
            throw new ManifestError(`device ${device.serial}: ${input} entry ${entry.kind.name}:${value} ${encoded}`, {
                file: device.source.file,
                line: device.source.line,
                serial: device.serial
            });
        }
        return implicitPrimitive(entry.kind.tag, encoded);
    }));
}
const DNS_TAG = 2;
/**
 * A `*` in a DNS name makes a wildcard certificate, valid for every name of that domain. Written in
 * the template it is the user's choice (the review shows it per device); brought in by a manifest
 * value it is refused before the device's certificate is issued: a row must not widen what its
 * certificate is good for.
 */
function refuseWildcardFromField(entry, device, value, input, template) {
    const brought = fieldBringing(entry.segments, device, '*');
    if (!brought)
        return;
    throw new ManifestError(`device ${device.serial} (${device.source.file}:${device.source.line}): field "${brought.field}" (${JSON.stringify(brought.value)}) puts "*" into the DNS name ${value} of ${input} "${template}": ` +
        `a wildcard certificate is valid for every name of its domain, and credbake does not let a manifest value make one. Fix the row, or write the wildcard in the ${input} template itself if every device is meant to have it.`, { file: device.source.file, line: device.source.line, serial: device.serial, input });
}
/** 4 or 16 octets of an IP address, or undefined. */
function ipAddressBytes(text) {
    const version = isIP(text);
    if (version === 4)
        return Buffer.from(text.split('.').map(Number));
    if (version !== 6)
        return undefined;
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
    let address = text;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
    if (v4?.[1]) {
        const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
        address = `${address.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    }
    const [head = '', tail] = address.split('::');
    const parse = (part) => (part ? part.split(':').map((hextet) => parseInt(hextet, 16)) : []);
    const headWords = parse(head);
    const tailWords = tail === undefined ? [] : parse(tail);
    const words = [...headWords, ...new Array(8 - headWords.length - tailWords.length).fill(0), ...tailWords];
    const bytes = Buffer.alloc(16);
    words.forEach((word, index) => bytes.writeUInt16BE(word, index * 2));
    return bytes;
}
// ---------------------------------------------------------------------------------------------
// Reading back: the subjectAltName of a certificate as text, the form the review manifest records
// (`certificate.san`) and `credbake verify` compares. One line, the names in certificate order as
// TYPE:value joined by ", ", in the template syntax: a `\`, `,`, `{` or `}` inside a value is
// escaped with `\`, so the text is itself a SAN template that renders to the same names.
const NAME_OF_TAG = new Map(KINDS.map((kind) => [kind.tag, kind.name]));
const OTHER_NAMES = ['otherName', 'email', 'DNS', 'x400Address', 'dirName', 'ediPartyName', 'URI', 'IP', 'RID'];
/** Text of a GeneralNames DER (the subjectAltName extension's value). Throws DerError on bad DER. */
function describeSan(der) {
    const bytes = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    const names = childrenOf(bytes, readSingle(bytes));
    return names
        .map((node) => {
        const number = node.tag & 0x1f;
        const contents = contentsOf(bytes, node);
        const kind = NAME_OF_TAG.get(number);
        const primitive = (node.tag & 0xe0) === 0x80;
        if (kind && primitive) {
            const value = number === 7 ? (ipAddressText(contents) ?? `#${contents.toString('hex')}`) : contents.toString('latin1');
            return `${kind}:${escapeSanValue(value)}`;
        }
        return `${OTHER_NAMES[number] ?? `[${number}]`}:#${contents.toString('hex')}`;
    })
        .join(', ');
}
function escapeSanValue(value) {
    return value.replace(/[\\,{}]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
/** Text of the subjectAltName extension of a certificate DER; undefined when it has none. Throws DerError on bad DER. */
function sanOfCertificate(certificateDer) {
    const value = extensionValue(certificateDer, EXTENSION_OID.subjectAltName);
    return value === undefined ? undefined : describeSan(value);
}
/** The extnValue contents of the certificate's extension `extensionOid`, or undefined. */
function extensionValue(certificateDer, extensionOid) {
    const der = Buffer.from(certificateDer.buffer, certificateDer.byteOffset, certificateDer.byteLength);
    const certificate = readSingle(der);
    const tbs = readNode(der, certificate.contentStart, certificate.end);
    const wrapper = childrenOf(der, tbs).find((node) => node.tag === 0xa3);
    if (!wrapper)
        return undefined;
    const [extensions] = childrenOf(der, wrapper);
    if (!extensions)
        return undefined;
    for (const extension of childrenOf(der, extensions)) {
        const parts = childrenOf(der, extension);
        const id = parts[0];
        const value = parts[parts.length - 1];
        if (id?.tag === TAG.oid && value?.tag === TAG.octetString && decodeOid(contentsOf(der, id)) === extensionOid)
            return contentsOf(der, value);
    }
    return undefined;
}
/** The text of 4 or 16 address octets (IPv6 as RFC 5952 writes it), or undefined for another length. */
function ipAddressText(bytes) {
    if (bytes.length === 4)
        return [...bytes].join('.');
    if (bytes.length !== 16)
        return undefined;
    const words = [];
    for (let i = 0; i < 16; i += 2)
        words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
    // The longest run of two or more zero words (the first of equal runs) becomes "::".
    let bestStart = -1;
    let bestLength = 1;
    for (let i = 0; i < 8;) {
        if (words[i] !== 0) {
            i++;
            continue;
        }
        let j = i;
        while (j < 8 && words[j] === 0)
            j++;
        if (j - i > bestLength) {
            bestStart = i;
            bestLength = j - i;
        }
        i = j;
    }
    const hex = (list) => list.map((word) => word.toString(16)).join(':');
    if (bestStart === -1)
        return hex(words);
    return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

// Characters a reviewer cannot see or that change how text around them reads: what the manifest
// refuses in values that become a certificate's subject or SAN, and what subject templates refuse.
// (Logs escape the same characters: src/util/log-text.ts.)
/**
 * C0 and C1 controls (U+0000-U+001F, U+007F-U+009F, U+0085 among them), Unicode format characters
 * (category Cf: bidi embeddings, overrides and isolates, zero-width characters, U+FEFF, tags), line
 * and paragraph separators, and unpaired surrogates.
 */
const MISLEADING = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]|\p{Cs}/u;
/** What kind of character `char` is, for a message: "a bidi control (U+202E)". */
function describeMisleadingChar(char) {
    const code = char.codePointAt(0) ?? 0;
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f))
        return `a control character (${hex})`;
    if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) || code === 0x200e || code === 0x200f || code === 0x061c) {
        return `a bidi control (${hex}), which reorders the text around it`;
    }
    if ((code >= 0x200b && code <= 0x200d) || code === 0x2060 || code === 0xfeff)
        return `an invisible zero-width character (${hex})`;
    if (code === 0x2028 || code === 0x2029)
        return `a line or paragraph separator (${hex})`;
    if (code >= 0xd800 && code <= 0xdfff)
        return `an unpaired surrogate (${hex}), not a character`;
    return `an invisible format character (${hex})`;
}
/** The first control or format character of `value`, described, or undefined when there is none. */
function misleadingCharIn(value) {
    const match = MISLEADING.exec(value);
    return match === null ? undefined : describeMisleadingChar(match[0]);
}

// X.500 names as credbake reads and prints them: the attribute types it knows (their OIDs, string
// types and RFC 5280 upper bounds) and RFC 4514 text of a Name. Shared by issuance (subject
// templates), the fleet CA check, verify and the CRL.
// PrintableString (X.680 §41.4) and IA5String character sets.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const IA5 = /^[\u0000-\u007f]*$/;
/**
 * Attributes a template may use. CN/O/OU/ST/L/STREET/UID are UTF8String (RFC 5280 says new
 * certificates use it); C and serialNumber are PrintableString and DC and emailAddress IA5String,
 * because their ASN.1 definitions allow nothing else.
 */
const SUBJECT_ATTRIBUTES = [
    { name: 'CN', aliases: ['commonName'], oid: '2.5.4.3', stringTag: TAG.utf8String, maxLength: 64 },
    { name: 'O', aliases: ['organizationName'], oid: '2.5.4.10', stringTag: TAG.utf8String, maxLength: 64 },
    { name: 'OU', aliases: ['organizationalUnitName'], oid: '2.5.4.11', stringTag: TAG.utf8String, maxLength: 64 },
    {
        name: 'C',
        aliases: ['countryName'],
        oid: '2.5.4.6',
        stringTag: TAG.printableString,
        maxLength: 2,
        rule: { pattern: /^[A-Z]{2}$/, explain: 'a two-letter upper-case ISO 3166 country code' }
    },
    { name: 'ST', aliases: ['stateOrProvinceName', 'S'], oid: '2.5.4.8', stringTag: TAG.utf8String, maxLength: 128 },
    { name: 'L', aliases: ['localityName'], oid: '2.5.4.7', stringTag: TAG.utf8String, maxLength: 128 },
    { name: 'STREET', aliases: ['streetAddress'], oid: '2.5.4.9', stringTag: TAG.utf8String, maxLength: 128 },
    {
        name: 'serialNumber',
        aliases: [],
        oid: '2.5.4.5',
        stringTag: TAG.printableString,
        maxLength: 64,
        rule: { pattern: PRINTABLE, explain: "PrintableString characters only (A-Z a-z 0-9 space ' ( ) + , - . / : = ?)" }
    },
    {
        name: 'emailAddress',
        aliases: ['E', 'email'],
        oid: '1.2.840.113549.1.9.1',
        stringTag: TAG.ia5String,
        maxLength: 255,
        rule: { pattern: IA5, explain: 'ASCII characters only' }
    },
    {
        name: 'DC',
        aliases: ['domainComponent'],
        oid: '0.9.2342.19200300.100.1.25',
        stringTag: TAG.ia5String,
        maxLength: 63,
        rule: { pattern: IA5, explain: 'ASCII characters only' }
    },
    { name: 'UID', aliases: ['userId'], oid: '0.9.2342.19200300.100.1.1', stringTag: TAG.utf8String, maxLength: 256 }
];
new Map(SUBJECT_ATTRIBUTES.map((info) => [info.oid, info]));
function escapeRfc4514(value) {
    let escaped = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/\u0000/g, '\\00');
    if (escaped.startsWith('#') || escaped.startsWith(' '))
        escaped = `\\${escaped}`;
    if (escaped.endsWith(' ') && escaped.length > 1)
        escaped = `${escaped.slice(0, -1)}\\ `;
    return escaped;
}

// Subject DN templates, e.g. `CN={device-id},O=Acme,OU=Fleet {region}`.
//
// The template is RFC 4514 text: most specific RDN first, so it reads like the DN strings of LDAP
// and Go (and like the subject credbake prints); the certificate encodes the RDNs in the reverse
// order (RFC 4514 §2.1), giving the usual C/O/OU/CN order in `openssl x509 -text`.
// Escapes: `\,` `\+` `\=` `\\` `\"` `\<` `\>` `\;` `\#` `\ ` `\{` `\}` and `\XX` hex (RFC 4514).
// An unescaped `+` joins attributes into one multi-valued RDN. Placeholders are substituted after
// parsing, so a comma inside a manifest value is data, never syntax.
const ATTRIBUTE_BY_NAME = new Map(SUBJECT_ATTRIBUTES.flatMap((info) => [info.name, ...info.aliases].map((name) => [name.toLowerCase(), info])));
/**
 * Parses and checks a subject template once, before any device. Throws InputError naming
 * `input` (default "subject"). With `knownFields`, placeholders must name one of them.
 */
function validateSubjectTemplate(template, knownFields, input = 'subject') {
    const fail = (message) => {
        throw new InputError(`${input} "${template}": ${message}`, { input });
    };
    if (template.trim().length === 0)
        fail('is empty; the certificate needs at least CN={device-id}');
    const rdns = splitUnescaped(template, ',', fail).map((rdnText) => splitUnescaped(rdnText, '+', fail).map((attributeText) => parseAttribute(attributeText, fail)));
    const attributes = rdns.flat();
    const commonNames = attributes.filter((attribute) => attribute.info.name === 'CN');
    // aktualizr takes the device ID from the CN and the manifest records it: keep them one value.
    if (commonNames.length !== 1)
        fail(`must contain exactly one CN (found ${commonNames.length}); the CN is the device ID`);
    const cn = commonNames[0]?.segments;
    if (!(cn?.length === 1 && cn[0] && 'field' in cn[0] && cn[0].field === 'device-id')) {
        fail('CN must be exactly {device-id}: the certificate profile makes the CN the device ID (set device-id in the manifest to change it)');
    }
    if (attributes.filter((attribute) => attribute.info.name === 'C').length > 1)
        fail('has more than one C');
    const fields = [...new Set(attributes.flatMap((attribute) => fieldsOf(attribute.segments)))];
    return { source: template, rdns, fields };
}
/**
 * Renders the template for one device. An unknown placeholder is an InputError naming `subject`;
 * a value that breaks an attribute's rules (CN over 64 characters, empty, control characters)
 * is a ManifestError pointing at the device's row.
 */
function renderSubject(template, device, input = 'subject') {
    let commonName = '';
    const textRdns = [];
    const derRdns = [];
    for (const rdn of template.rdns) {
        const textParts = [];
        const encoded = [];
        for (const attribute of rdn) {
            const value = renderSegments(attribute.segments, device, input, template.source);
            if (!attribute.constantDer)
                checkValue(attribute.info, value, device, input);
            if (attribute.info.name === 'CN')
                commonName = value;
            textParts.push(`${attribute.info.name}=${escapeRfc4514(value)}`);
            encoded.push(attribute.constantDer ?? encodeAttribute(attribute.info, value));
        }
        textRdns.push(textParts.join('+'));
        derRdns.push(setOf(encoded));
    }
    // Template order is RFC 4514 order; the RDNSequence is encoded the other way round.
    return { der: sequence(...derRdns.reverse()), text: textRdns.join(','), commonName };
}
/** Value rules that depend on what a device's fields render to. */
function checkValue(info, value, device, input) {
    const problem = valueProblem(info, value);
    if (problem === undefined)
        return;
    throw new ManifestError(`device ${device.serial}: ${input} attribute ${info.name} ${problem}`, {
        file: device.source.file,
        line: device.source.line,
        serial: device.serial
    });
}
function valueProblem(info, value) {
    if (value.length === 0)
        return 'is empty';
    const length = [...value].length;
    if (length > info.maxLength)
        return `is ${length} characters long; at most ${info.maxLength} are allowed (RFC 5280)`;
    // Controls and format characters (bidi overrides, zero-width characters) would make the subject
    // read differently from what it is.
    const hidden = misleadingCharIn(value);
    if (hidden !== undefined)
        return `contains ${hidden}`;
    if (info.rule && !info.rule.pattern.test(value))
        return `must be ${info.rule.explain}`;
    return undefined;
}
function encodeAttribute(info, value) {
    return sequence(oid(info.oid), tlv(info.stringTag, Buffer.from(value, info.stringTag === TAG.utf8String ? 'utf8' : 'latin1')));
}
function parseAttribute(text, fail) {
    const equals = indexOfUnescaped(text, '=');
    if (equals === -1)
        fail(`"${text.trim()}" is not TYPE=value`);
    const typeName = text.slice(0, equals).trim();
    const info = ATTRIBUTE_BY_NAME.get(typeName.toLowerCase());
    if (!info)
        return fail(`unknown attribute type "${typeName}"; supported: ${SUBJECT_ATTRIBUTES.map((a) => a.name).join(', ')}`);
    const segments = parseSegments(text.slice(equals + 1), fail);
    const attribute = { info, segments };
    if (isConstant(segments)) {
        const value = literalText(segments);
        const problem = valueProblem(info, value);
        if (problem !== undefined)
            fail(`${info.name} ${problem}`);
        attribute.constantDer = encodeAttribute(info, value);
    }
    return attribute;
}

// Lifetimes (validity-days / not-after) turned into certificate dates. One place, so the fleet CA
// check and issuance can never disagree about when a device certificate ends.
/** RFC 5280 §4.1.2.5: 99991231235959Z means "no well-defined expiration date". */
const NEVER_EXPIRES = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
const DAY_MS = 86_400_000;
/** The input a lifetime came from, for error messages. */
function lifetimeInput(lifetime) {
    return lifetime.kind === 'days' ? 'validity-days' : 'not-after';
}
/** "365 days", "until 2030-01-01T00:00:00Z", "never (99991231235959Z)". */
function describeLifetime(lifetime) {
    switch (lifetime.kind) {
        case 'days':
            return `${lifetime.days} day${lifetime.days === 1 ? '' : 's'}`;
        case 'until':
            return `until ${isoSeconds(lifetime.notAfter)}`;
        case 'never':
            return 'never (99991231235959Z)';
    }
}
/** Rejects lifetimes that cannot produce a certificate whatever the CA (InputError naming the input). */
function validateLifetime(lifetime) {
    if (lifetime.kind === 'days' && !(Number.isInteger(lifetime.days) && lifetime.days >= 1)) {
        throw new InputError(`validity-days must be a whole number of days, at least 1 (got ${String(lifetime.days)})`, { input: 'validity-days' });
    }
    if (lifetime.kind === 'until' && Number.isNaN(lifetime.notAfter.getTime())) {
        throw new InputError('not-after is not a valid time; use RFC 3339 (2030-01-01T00:00:00Z) or "never"', { input: 'not-after' });
    }
}
/** When a certificate issued at `now` with this lifetime ends (whole seconds: X.509 has no fractions). */
function lifetimeEnd(lifetime, now) {
    validateLifetime(lifetime);
    let end;
    switch (lifetime.kind) {
        case 'days':
            end = new Date(wholeSeconds(now).getTime() + lifetime.days * DAY_MS);
            break;
        case 'until':
            end = wholeSeconds(lifetime.notAfter);
            break;
        case 'never':
            return NEVER_EXPIRES;
    }
    if (end.getTime() > NEVER_EXPIRES.getTime()) {
        throw new InputError(`${lifetimeInput(lifetime)} ends after 9999-12-31T23:59:59Z; use "never" for no expiry`, { input: lifetimeInput(lifetime) });
    }
    if (end.getTime() <= now.getTime()) {
        throw new InputError(`not-after ${isoSeconds(end)} is not in the future`, { input: lifetimeInput(lifetime) });
    }
    return end;
}
/** notBefore = now − backdate (never before `earliest`, the CA's notBefore); notAfter per lifetime. */
function validityFor(lifetime, now, backdateSeconds, earliest) {
    const backdated = wholeSeconds(new Date(now.getTime() - backdateSeconds * 1000));
    const notBefore = earliest && earliest.getTime() > backdated.getTime() ? wholeSeconds(earliest) : backdated;
    return { notBefore, notAfter: lifetimeEnd(lifetime, now) };
}
function wholeSeconds(date) {
    return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
/** 2030-01-01T00:00:00Z (no milliseconds): how credbake shows times to people. */
function isoSeconds(date) {
    return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];
const KEY_PURPOSES = {
    serverAuth: '1.3.6.1.5.5.7.3.1',
    clientAuth: '1.3.6.1.5.5.7.3.2',
    codeSigning: '1.3.6.1.5.5.7.3.3',
    emailProtection: '1.3.6.1.5.5.7.3.4',
    timeStamping: '1.3.6.1.5.5.7.3.8',
    OCSPSigning: '1.3.6.1.5.5.7.3.9'
};
const listOf = (value) => value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
/** The value language of each extension (see the file comment). */
const VALUE_ENCODERS = {
    basicConstraints: (value) => {
        // cA is DEFAULT FALSE, so DER leaves it out: an empty SEQUENCE.
        if (value !== 'CA:FALSE')
            throw profileError('basicConstraints', value);
        return sequence();
    },
    keyUsage: (value) => {
        const bits = listOf(value).map((name) => {
            const bit = KEY_USAGE_BITS.indexOf(name);
            if (bit === -1)
                throw profileError('keyUsage', value);
            return bit;
        });
        return namedBitString(bits);
    },
    extendedKeyUsage: (value) => sequence(...listOf(value).map((name) => {
        const purpose = KEY_PURPOSES[name];
        if (!purpose)
            throw profileError('extendedKeyUsage', value);
        return oid(purpose);
    })),
    subjectKeyIdentifier: (value) => {
        if (value !== 'sha1(subjectPublicKey)')
            throw profileError('subjectKeyIdentifier', value);
        return (context) => octetString(sha1(context.subjectPublicKey));
    },
    authorityKeyIdentifier: (value) => {
        const match = /^keyid:((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})$/.exec(value);
        if (!match?.[1])
            throw profileError('authorityKeyIdentifier', value);
        // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }
        return sequence(implicitPrimitive(0, Buffer.from(match[1].replace(/:/g, ''), 'hex')));
    },
    subjectAltName: (value) => {
        const template = validateSanTemplate(value);
        return (context) => renderSan(template, context.device);
    }
};
/** Turns the profile's data into DER building blocks; issueCredential caches the result. */
function compileProfile(profile) {
    const extensions = profile.extensions.map((spec) => {
        const head = [oid(spec.oid), ...(spec.critical ? [DER_TRUE] : [])];
        const value = VALUE_ENCODERS[spec.name](spec.value, profile);
        return typeof value === 'function' ? (context) => sequence(...head, octetString(value(context))) : sequence(...head, octetString(value));
    });
    return { profile, subject: validateSubjectTemplate(profile.subject), extensions };
}
/** DER of a named BIT STRING: trailing zero bits removed (X.690 §11.2.2). */
function namedBitString(bits) {
    if (bits.length === 0)
        return bitString(Buffer.alloc(0));
    const highest = Math.max(...bits);
    const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
    for (const bit of bits)
        bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
    return bitString(bytes, 7 - (highest & 7));
}
function profileError(name, value) {
    // Profiles come from buildProfile, so this is a programming error, not user input.
    return new Error(`certificate profile: ${name} value "${value}" is not understood`);
}

// Issues one device credential in two steps: buildTbs (key pair or a CSR's public key, and the
// TBSCertificate built with the lean DER encoder from the compiled profile), then assemble (the
// certificate around a signature of the fleet CA's signer; sealSigned checks a signature from
// outside the process first). issueCredential does both with an in-memory CA key, which is what
// issuance workers do when the signer allows it.
/** [0] EXPLICIT Version v3(2): the same 5 bytes in every certificate. */
const VERSION_V3 = explicit(0, smallInteger(2));
// Profiles are frozen data; compile each once per process (workers compile their own copy).
const compiledProfiles = new WeakMap();
function compiled(profile) {
    let result = compiledProfiles.get(profile);
    if (!result) {
        result = compileProfile(profile);
        compiledProfiles.set(profile, result);
    }
    return result;
}
/**
 * The TBSCertificate of one device per the profile. Generates a key pair of `profile.keyType`, or,
 * when `device.csr` is set, verifies that CSR and certifies its public key (no private key then).
 */
function buildTbs(ca, profile, device, now = new Date()) {
    const template = compiled(profile);
    const keyPair = device.csr === undefined ? generateDeviceKeyPair(profile.keyType) : undefined;
    const spkiDer = keyPair ? keyPair.spkiDer : publicKeyFromCsr(device, profile);
    const subject = renderSubject(template.subject, device);
    const { notBefore, notAfter } = validityFor(profile.lifetime, now, profile.backdateSeconds, ca.notBefore);
    // loadFleetCa checked this at start; a long run can still drift past the CA's end.
    if (notAfter.getTime() > ca.notAfter.getTime()) {
        throw new FleetCaError(`device ${device.serial}: the lifetime (${describeLifetime(profile.lifetime)}) would end ${isoSeconds(notAfter)}, after the fleet CA expires on ${isoSeconds(ca.notAfter)}`, { input: lifetimeInput(profile.lifetime), serial: device.serial });
    }
    const serial = randomSerial(profile.serialNumberBytes);
    const context = { device, subjectPublicKey: splitSpki(spkiDer).subjectPublicKey };
    const extensions = template.extensions.map((extension) => (typeof extension === 'function' ? extension(context) : extension));
    const tbs = sequence(VERSION_V3, tlv(TAG.integer, serial), ca.signatureAlgorithmDer, ca.subjectDer, sequence(x509Time(notBefore), x509Time(notAfter)), subject.der, spkiDer, explicit(3, sequence(...extensions)));
    return {
        device,
        tbs,
        ...(keyPair ? { privateKeyPem: keyPair.privateKeyPem } : {}),
        serialNumber: serial.toString('hex'),
        subject: subject.text,
        publicKeySha256: sha256Hex(spkiDer),
        notBefore,
        notAfter
    };
}
/** The certificate: SEQUENCE { tbsCertificate, signatureAlgorithm, BIT STRING signature }. */
function assemble(ca, unsigned, signature) {
    const certificateDer = sequence(unsigned.tbs, ca.signatureAlgorithmDer, bitString(signature));
    return {
        device: unsigned.device,
        certificateDer,
        certificatePem: toPem('CERTIFICATE', certificateDer),
        ...(unsigned.privateKeyPem !== undefined ? { privateKeyPem: unsigned.privateKeyPem } : {}),
        serialNumber: unsigned.serialNumber,
        subject: unsigned.subject,
        sha256: sha256Hex(certificateDer),
        publicKeySha256: unsigned.publicKeySha256,
        notBefore: unsigned.notBefore,
        notAfter: unsigned.notAfter
    };
}
/**
 * The certificate around a signature from outside this process (a token, KMS or signer program),
 * after checking it with the fleet CA's public key: a bad one throws a FleetCaError naming
 * `signer` (its description), the device and the fault, and nothing is assembled.
 */
function sealSigned(ca, unsigned, signature, signer) {
    const problem = signatureProblem(ca.publicKey, ca.signatureHash, unsigned.tbs, signature);
    if (problem !== undefined)
        throw badSignatureError(signer, unsigned.device.serial, problem);
    return assemble(ca, unsigned, signature);
}
/** buildTbs + sign with the in-memory CA key (node:crypto; EC signatures come out DER) + assemble. */
function issueCredential(ca, profile, device, now, caKey) {
    const unsigned = buildTbs(ca, profile, device, now);
    return assemble(ca, unsigned, sign(ca.signatureHash, unsigned.tbs, caKey));
}
/**
 * CSPRNG serial: positive (top bit clear) with a non-zero first octet, so the INTEGER is
 * exactly `bytes` octets long (no 0x00 pad, no shortening). 8·bytes − 1 bits of entropy.
 */
function randomSerial(bytes) {
    const serial = randomChunk(bytes);
    serial[0] = (serial[0] ?? 0) & 0x7f;
    while (serial[0] === 0)
        serial[0] = (randomChunk(1)[0] ?? 0) & 0x7f;
    return serial;
}
/** The SubjectPublicKeyInfo of a device's CSR, after checking the CSR's self-signature. */
function publicKeyFromCsr(device, profile) {
    const csrPath = device.csr;
    const fail = (reason, cause) => {
        throw new ManifestError(`device ${device.serial}: csr ${escapeText(csrPath)}: ${reason}`, {
            file: device.source.file,
            line: device.source.line,
            serial: device.serial,
            cause
        });
    };
    let text;
    try {
        // The manifest reader checked it already; it may have changed since (a FIFO now must not hang
        // an issuance worker, a large file must not fill its memory).
        text = readBoundedTextSync(csrPath, { maxBytes: INPUT_LIMITS.csr, what: 'a CSR' });
    }
    catch (error) {
        return fail(whyUnreadable(error), error);
    }
    const blocks = readPemBlocks(text);
    if ('problem' in blocks)
        return fail(blocks.problem);
    const block = blocks.find((candidate) => candidate.label === 'CERTIFICATE REQUEST' || candidate.label === 'NEW CERTIFICATE REQUEST');
    if (!block)
        return fail(`holds no CERTIFICATE REQUEST block (found ${labelsOf(blocks)})`);
    const der = block.der;
    let request;
    let infoDer;
    let spkiDer;
    let publicKey;
    try {
        request = AsnConvert.parse(der, CertificationRequest);
        // The signature covers the CertificationRequestInfo bytes exactly as sent: slice, do not re-encode.
        const [info] = childrenOf(der, readSingle(der));
        if (!info)
            throw new Error('no CertificationRequestInfo');
        const [, , spki] = childrenOf(der, info);
        if (!spki || spki.tag !== TAG.sequence)
            throw new Error('no SubjectPublicKeyInfo');
        infoDer = encodingOf(der, info);
        spkiDer = Buffer.from(encodingOf(der, spki));
        publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
    }
    catch (error) {
        return fail(`is not a valid PKCS#10 certificate request (${messageOf(error)})`, error);
    }
    const algorithm = request.signatureAlgorithm.algorithm;
    const hash = SIGNATURE_HASHES[algorithm];
    if (hash === undefined)
        fail(`is signed with an unsupported algorithm (${algorithm})`);
    if (!verify(hash ?? null, infoDer, publicKey, Buffer.from(request.signature)))
        fail('has an invalid signature: it was altered, or not signed by its own key');
    const facts = keyFacts(publicKey);
    if ('unsupported' in facts)
        return fail(facts.unsupported);
    // keyUsage depends on the key family (keyEncipherment is RSA-only), and the recorded profile
    // states one keyUsage: the CSR's key must be of the family key-type names.
    if (facts.family !== keyFamilyOf(profile.keyType)) {
        fail(`has an ${facts.description} key, but key-type is ${profile.keyType}; set key-type to the CSRs' key family`);
    }
    return spkiDer;
}

// output-dir is a trust boundary (docs/output-dir-boundary.md). Other jobs, restored caches and
// downloaded artifacts put things there, so credbake never reaches anything in it through a
// symbolic link, and every path it reads from a journal or a manifest must name an output inside
// it before it is touched. The checks, shared by bake, merge, the sinks and the journal:
// - outputPathProblem: a recorded output path is FOLDER/NAME, nothing else;
// - realFolder / ensureFolder(Sync): a folder on the way is a real folder, never a link;
// - checkTrustedFolder: a folder credbake writes in is its user's and writable by nobody else;
// - O_NOFOLLOW for files opened in place (the journal, the lock).
/** open(2) flag: fail with ELOOP when the last component is a symbolic link (0 where there is none). */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
/** The message for a symbolic link found where credbake reads, writes or removes something. */
function plantedLinkError(file) {
    let target = '';
    try {
        target = ` (to ${readlinkSync(file)})`;
    }
    catch {
        // gone meanwhile, or unreadable: name the link alone
    }
    return new OutputError(`${file} is a symbolic link${target}: credbake never follows links inside output-dir, where another job could have planted one to make it read, overwrite or remove files elsewhere. Remove it (credbake never makes one), or use a new output-dir.`, { file });
}
function notFolderError(folder) {
    return new OutputError(`${folder} is not a folder: credbake writes its outputs into a folder of that name. Move it aside, or use a new output-dir.`, { file: folder });
}
/** ensureFolder for worker threads writing outputs synchronously. */
function ensureFolderSync(folder) {
    try {
        mkdirSync(folder, { mode: 0o755 });
    }
    catch (error) {
        if (error.code !== 'EEXIST')
            throw error;
    }
    const info = lstatSync(folder);
    if (info.isSymbolicLink())
        throw plantedLinkError(folder);
    if (!info.isDirectory())
        throw notFolderError(folder);
}

// Where a sparse file keeps its data: credbake's small Node-API addon (native/fsmap) around
// lseek(SEEK_DATA/SEEK_HOLE), which Node lacks. Hashing an image output needs every byte, but a
// hole is zeros by definition: knowing the holes, the hasher feeds zeros from memory instead of
// reading them. On ext4 reading a hole is not free: the kernel fills page-cache pages with zeros,
// which measured 0.1-0.45 s of system time per 256 MiB output here, more than the SHA-256 itself.
// Without the addon (a platform no binary ships for) callers read the whole file, as before.
/**
 * The addon's file: beside the bundle in dist/native/<platform>/, or node_modules under src/.
 * CREDBAKE_NO_FSMAP=1 turns it off (benchmarks compare both ways; tests take the fallback).
 */
function fsmapAddonPath() {
    if (process.env.CREDBAKE_NO_FSMAP === '1')
        return undefined;
    const here = fileURLToPath(import.meta.url);
    if (here.endsWith('.ts')) {
        try {
            return createRequire(import.meta.url).resolve('credbake-fsmap/build/Release/fsmap.node');
        }
        catch {
            return undefined;
        }
    }
    const file = path.join(path.dirname(here), 'native', `${process.platform}-${process.arch}`, 'fsmap.node');
    return existsSync(file) ? file : undefined;
}
let loaded;
/** The addon, or undefined where it is not shipped or cannot be loaded (then read everything). */
function loadFsmap() {
    if (loaded !== undefined)
        return loaded ?? undefined;
    loaded = null;
    const file = fsmapAddonPath();
    if (!file)
        return undefined;
    try {
        loaded = createRequire(import.meta.url)(file);
    }
    catch {
        loaded = null;
    }
    return loaded ?? undefined;
}
/**
 * Walk [from, end) in order: `read` each data range, `zeros` for the holes between them. Without a
 * map (no addon), all of it is one data range. A short read (the file shrank) ends the walk.
 */
function feedRanges(ranges, from, end, read, zeros) {
    if (!ranges) {
        read(from, end);
        return;
    }
    let at = from;
    for (let i = 0; i + 1 < ranges.length; i += 2) {
        const start = Math.max(at, ranges[i]);
        const stop = Math.min(end, ranges[i + 1]);
        if (stop <= start)
            continue;
        if (start > at)
            zeros(start - at);
        if (!read(start, stop))
            return;
        at = stop;
    }
    if (end > at)
        zeros(end - at);
}
/** Zeros fed in place of holes, one block for every caller (calloc'd: untouched pages cost no memory). */
let zeroBlock;
function zeroChunks(length, update) {
    const zeros = (zeroBlock ??= Buffer.alloc(1 << 20));
    for (let left = length; left > 0; left -= zeros.length)
        update(left >= zeros.length ? zeros : zeros.subarray(0, left));
}
/** readRangesSync through a FileHandle, without blocking the thread. */
async function readRanges(handle, ranges, from, end, buffer, update) {
    const pieces = [];
    feedRanges(ranges, from, end, (start, stop) => (pieces.push([start, stop]), true), (length) => void pieces.push(length));
    for (const piece of pieces) {
        if (typeof piece === 'number') {
            zeroChunks(piece, update);
            continue;
        }
        for (let offset = piece[0]; offset < piece[1];) {
            const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, piece[1] - offset), offset);
            if (bytesRead === 0)
                return;
            update(buffer.subarray(0, bytesRead));
            offset += bytesRead;
        }
    }
}

// File helpers for outputs that must be complete or absent: write under a temporary name in the
// same folder, fsync, rename into place.
/** A temporary sibling name: same folder (so rename is atomic), hidden, unique per call. */
function tempSibling(target) {
    return tempIn(path.dirname(target), path.basename(target));
}
/** tempSibling of `dir`/`name`, where `name` is one plain path component (no separator, not "." or ".."). */
function tempIn(dir, name) {
    return `${dir}${path.sep}.${name}${TEMP_MARKER}${process.pid}-${randomChunk(4).toString('hex')}`;
}
const TEMP_MARKER = '.tmp-';
/** writeAll for a file descriptor, synchronously (worker threads writing outputs). */
function writeAllSync(fd, bytes) {
    for (let done = 0; done < bytes.length;) {
        const written = writeSync(fd, bytes, done, bytes.length - done);
        if (written === 0)
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        done += written;
    }
}
/**
 * SHA-256 (hex) of a file. A small regular file is read whole; a large one's holes, where the
 * fsmap addon can tell them, are hashed from zeros instead of read (image outputs checked on
 * resume or by verify are mostly holes); anything else (a block device, no addon) is streamed.
 * `inside`: a file in output-dir, which must be a regular file reached without a link (else the
 * open or the check throws, ELOOP or EINVAL).
 */
async function sha256File(file, options = {}) {
    const hash = createHash('sha256');
    const handle = await open(file, options.inside ? constants.O_RDONLY | constants.O_NONBLOCK | O_NOFOLLOW : 'r');
    try {
        const info = await handle.stat();
        if (options.inside && !info.isFile())
            throw Object.assign(new Error(`${file} is not a regular file`), { code: 'EINVAL' });
        // A small file (a tar overlay is about 1.3 KiB): read whole, no 1 MiB stream buffer per file
        // (a resume checks 100,000 of them).
        if (info.isFile() && info.size < SPARSE_HASH_MIN)
            return hash.update(await handle.readFile()).digest('hex');
        const ranges = info.isFile() ? loadFsmap()?.dataRanges(handle.fd, 0, info.size) : undefined;
        if (!ranges) {
            for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false, start: 0 }))
                hash.update(chunk);
            return hash.digest('hex');
        }
        // What it held is what is hashed, should it shrink meanwhile (as a stream would).
        await readRanges(handle, ranges, 0, info.size, Buffer.allocUnsafe(1 << 20), (chunk) => hash.update(chunk));
        return hash.digest('hex');
    }
    finally {
        await handle.close();
    }
}
/** Files below this size are read whole: one read costs less than asking for their holes. */
const SPARSE_HASH_MIN = 8 << 20;
function octalMode(mode) {
    return (mode & 0o7777).toString(8).padStart(4, '0');
}

// The journal (output-dir/credbake-journal.jsonl): an append-only, fsync'd record of every
// certificate issued and every output completed. It is the source of truth: a certificate is
// recorded here before its key is written anywhere, so a crash can lose an output but never the
// knowledge that a certificate exists (and may need revoking). The review manifest is built from it.
//
// Format 2: one JSON object per line, each ending in its own checksum,
//   {"type":"issued",…,"sum":"<first 32 hex digits of SHA-256 of the line without the sum field>"}
// The sum covers the exact bytes `{…}` of the record as written, so no re-serialisation is
// involved in checking it. A last line without its newline is a torn append (the process died
// while writing it, before anything depended on it) and is cut off; any other line that does not
// check out stops the run: it may be the only record of a certificate that must be revoked.
// The checksum is unkeyed: it catches damage (a torn or cut copy, a flipped byte, an edit by
// hand), not forgery, since anyone can recompute it. So nothing a record says is trusted to stay
// inside output-dir: every output path is checked where it is read (state.ts), the file is opened
// without following a link, and output-dir itself is a boundary (docs/output-dir-boundary.md).
const SUM_FIELD = ',"sum":"';
const SUM_DIGITS = 32;
// sha256Hex is the one-shot crypto.hash where this Node has it (20.12+): no Hash object per line.
function checksum(json) {
    return sha256Hex(json).slice(0, SUM_DIGITS);
}
/** One record as a journal line, newline included. */
function encodeRecord(record) {
    const json = JSON.stringify(record);
    return `${json.slice(0, -1)}${SUM_FIELD}${checksum(json)}"}\n`;
}
const RECORD_TYPES = ['run', 'issued', 'written', 'retired', 'complete', 'revoked', 'crl'];
/** `{"type":"issued",` and so on: how a line encoded by `encodeRecord` starts, per type. */
const TYPE_PREFIXES = new Map();
for (const type of RECORD_TYPES) {
    const prefix = Buffer.from(`{"type":"${type}",`);
    const key = prefix[9];
    TYPE_PREFIXES.set(key, [...(TYPE_PREFIXES.get(key) ?? []), { type, prefix }]);
}
Buffer.from(SUM_FIELD);
Buffer.alloc(0);

/** The manifest's view of installed files. Private keys: presence and mode only, never a hash. */
function describeFiles(files, medium) {
    return files.map((file) => ({
        path: file.path,
        mode: medium.modes ? octalMode(file.mode) : null,
        owner: medium.owners ? `${file.uid}:${file.gid}` : null,
        sha256: file.secret ? null : sha256Hex(file.content),
        size: file.content.length,
        secret: file.secret,
        ...(file.partitionPath === undefined ? {} : { partitionPath: file.partitionPath })
    }));
}
/** The files as the output stores them: at their partitionPath where they have one (OSTree sysroot paths). */
function placedFiles(files) {
    return files.map((file) => (file.partitionPath === undefined ? file : { ...file, path: file.partitionPath }));
}
/**
 * A digest for a "dir" output (a tree, not a file): SHA-256 of one line per file,
 * "MODE UID:GID SHA256 PATH", sorted by path. `credbake verify` recomputes it.
 */
function treeDigest(files) {
    const lines = [...files]
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
        .map((file) => `${octalMode(file.mode)} ${file.uid}:${file.gid} ${sha256Hex(file.content)} ${file.path}\n`);
    return sha256Hex(Buffer.from(lines.join('')));
}
/**
 * The tree digest of a "dir" output as it is on disk now. Owners are those the bundle asked for
 * (0:0): a tree written by a non-root user cannot carry them, and copying it as root restores them.
 * Links are never followed (the tree is inside output-dir): a link where a file was makes the
 * digest differ, and a tree that is itself a link is not read.
 */
async function treeDigestOnDisk(root) {
    if (!(await lstat(root)).isDirectory())
        throw Object.assign(new Error(`${root} is not a folder`), { code: 'ENOTDIR' });
    const files = [];
    for (const name of await readdir(root, { recursive: true })) {
        const file = path.join(root, name);
        const info = await lstat(file);
        if (!info.isFile())
            continue;
        files.push({ path: `/${name.split(path.sep).join('/')}`, mode: info.mode & 0o7777, uid: 0, gid: 0, content: await readFile(file) });
    }
    return treeDigest(files);
}
/** True when a file output is still there with the recorded SHA-256 (a regular file, not a link). */
async function fileMatches(file, sha256) {
    try {
        return (await sha256File(file, { inside: true })) === sha256;
    }
    catch {
        return false;
    }
}

const HINTS = {
    ENOSPC: 'the disk holding output-dir is full',
    EDQUOT: 'the disk quota for output-dir is exhausted',
    EACCES: 'output-dir is not writable by this user',
    EPERM: 'output-dir is not writable by this user',
    EROFS: 'output-dir is on a read-only file system'
};
/** Turn a file-system error while writing one device into an OutputError naming the device. */
function wrapWriteError(error, device, target) {
    if (isCredbakeError(error))
        return error;
    const code = error.code ?? '';
    const hint = HINTS[code];
    return new OutputError(`Could not write the output of device ${device.serial} (${target}): ${hint ?? messageOf(error)}${hint ? ` (${code})` : ''}.`, {
        serial: device.serial,
        cause: error
    });
}

// What verify reads of an output, and the helpers every format's reader shares. An output is
// evidence, not trusted: nothing is reached through a symbolic link (a link anywhere in a tree is
// reported, never followed, so a link to / cannot make verify walk the host), a file is read only up
// to the size the manifest gives it, and a tree is walked only up to MAX_TREE_ENTRIES. Each format's
// reader (its record's `read`) lives in the format's own file.
/** The output cannot be read at all (missing, truncated, not an archive): one problem, the device fails. */
class OutputUnreadable extends Error {
}
/** Entries a "dir" tree may have before verify stops walking it (credbake writes about eight). */
const MAX_TREE_ENTRIES = 4096;
/** Whether folders and files may carry owners other than the user running verify (owners are compared only then). */
const asRoot = () => process.getuid?.() === 0;
/** Where a device's output is on disk. */
function outputTarget(context, device) {
    return path.join(context.outputDir, ...device.output.path.split('/'));
}
/** lstat of an output that must be there and not a link (file and tree outputs). */
function lstatOutput(target, device) {
    let info;
    try {
        // Synchronous: a verify thread does nothing else meanwhile, and a hop through libuv's pool per
        // call costs more than the call.
        info = lstatSync(target);
    }
    catch (error) {
        const code = error.code;
        throw new OutputUnreadable(`output ${device.output.path} is ${code === 'ENOENT' ? 'missing' : `unreadable (${messageOf(error)})`}`);
    }
    if (info.isSymbolicLink())
        throw new OutputUnreadable(`output ${device.output.path} is a symbolic link (to ${linkTarget(target)}); verify does not follow links`);
    return info;
}
function linkTarget(file) {
    try {
        return JSON.stringify(readlinkSync(file));
    }
    catch {
        return 'somewhere';
    }
}
/** Every folder above `devicePath` ("/var/sota/import/x" → "/", "/var", "/var/sota", "/var/sota/import"). */
function foldersAbove(devicePath) {
    // Every device's bundle has the same few paths.
    let folders = foldersCache.get(devicePath);
    if (!folders) {
        const parts = devicePath.split('/').filter(Boolean);
        folders = ['/'];
        for (let depth = 1; depth < parts.length; depth++)
            folders.push(`/${parts.slice(0, depth).join('/')}`);
        if (foldersCache.size > 1024)
            foldersCache.clear();
        foldersCache.set(devicePath, folders);
    }
    return folders;
}
const foldersCache = new Map();
function hostPath(root, devicePath) {
    return path.join(root, ...devicePath.split('/').filter(Boolean));
}
/** Read at most `limit` bytes of a regular file, refusing a link (O_NOFOLLOW) and anything but a file. */
function readCapped(file, limit) {
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
        const stats = fstatSync(fd);
        if (!stats.isFile())
            throw Object.assign(new Error(`it is ${kindOf(stats)}`), { code: 'ENOTFILE' });
        const size = stats.size;
        if (size > limit)
            return { content: null, size };
        const content = Buffer.allocUnsafe(size);
        let done = 0;
        while (done < size) {
            const n = readSync(fd, content, done, size - done, done);
            if (n === 0)
                break;
            done += n;
        }
        return { content: done === size ? content : content.subarray(0, done), size: done };
    }
    finally {
        closeSync(fd);
    }
}
/** Every entry of the tree under `root` by device path, never following a link; throws past MAX_TREE_ENTRIES. */
function walkTree(root) {
    const entries = new Map();
    const pending = ['/'];
    while (pending.length > 0) {
        const folder = pending.pop();
        for (const dirent of readdirSync(hostPath(root, folder), { withFileTypes: true })) {
            const devicePath = folder === '/' ? `/${dirent.name}` : `${folder}/${dirent.name}`;
            const stats = lstatSync(hostPath(root, devicePath));
            const kind = stats.isSymbolicLink() ? 'link' : stats.isDirectory() ? 'folder' : stats.isFile() ? 'file' : 'other';
            entries.set(devicePath, { kind, stats });
            if (entries.size > MAX_TREE_ENTRIES)
                throw new OutputUnreadable(`the tree holds more than ${MAX_TREE_ENTRIES} entries: not an output credbake wrote (verify stops walking it)`);
            if (kind === 'folder')
                pending.push(devicePath);
        }
    }
    return entries;
}
function kindOf(stats) {
    if (stats.isDirectory())
        return 'a folder';
    if (stats.isFIFO())
        return 'a named pipe';
    if (stats.isSocket())
        return 'a socket';
    if (stats.isBlockDevice() || stats.isCharacterDevice())
        return 'a device node';
    return 'not a regular file';
}

// Sink "dir": output-dir/devices/SERIAL/<device paths>, modes applied, built under a temporary
// name and renamed into place only when complete. The tree is what `cp -a`/rsync puts on the
// device, so its modes are the bundle's whatever the umask: folders 0755 (SERIAL/ itself stands
// for the root file system), files as the layout says (keys 0600, created so). DirWriter does the
// work synchronously, so issuance workers write trees themselves (the sink's `writer`).
/** output-dir/devices/SERIAL/ */
const FOLDER$1 = 'devices';
class DirWriter {
    outputDir;
    root;
    rootReady = false;
    constructor(outputDir) {
        this.outputDir = outputDir;
        this.root = path.join(outputDir, FOLDER$1);
    }
    write(device, files) {
        const target = path.join(this.root, device.serial);
        const temp = tempSibling(target);
        const placed = placedFiles(files);
        try {
            if (!this.rootReady) {
                // devices/ is made here or checked to be a real folder: never a planted link.
                ensureFolderSync(this.root);
                this.rootReady = true;
            }
            makeFolder(temp);
            const made = new Set([temp]);
            // At sysroot paths when the bundle has them (ostree-os), else at device paths.
            for (const file of placed)
                writeOne(temp, file, made);
            rmSync(target, { recursive: true, force: true });
            renameSync(temp, target);
        }
        catch (error) {
            rmSync(temp, { recursive: true, force: true });
            throw wrapWriteError(error, device, target);
        }
        return {
            path: path.relative(this.outputDir, target).split(path.sep).join('/'),
            size: files.reduce((sum, file) => sum + file.content.length, 0),
            sha256: treeDigest(placed),
            files: describeFiles(files, { modes: true, owners: true })
        };
    }
}
class DirSink {
    outputDir;
    format = dirFormat.name;
    writer;
    /** With ostree-os: the trees hold sysroot paths, to copy into a mounted otaroot. */
    ostree;
    constructor(outputDir, ostreeOs) {
        this.outputDir = outputDir;
        this.writer = { format: dirFormat.name, outputDir, mtime: new Date(0).toISOString() };
        if (ostreeOs !== undefined)
            this.ostree = { os: ostreeOs, sysrootPaths: true };
    }
    async verify(output) {
        try {
            return (await treeDigestOnDisk(path.join(this.outputDir, output.path))) === output.sha256;
        }
        catch {
            return false;
        }
    }
    async close() { }
}
/** A new folder of the tree, 0755 whatever the umask (which would narrow it to 0700 under 077). */
function makeFolder(folder) {
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
}
function writeOne(root, file, made) {
    const parts = file.path.split('/').filter(Boolean);
    const destination = path.join(root, ...parts);
    let folder = root;
    for (const part of parts.slice(0, -1)) {
        folder = path.join(folder, part);
        if (made.has(folder))
            continue;
        makeFolder(folder);
        made.add(folder);
    }
    // Create with the final mode so a key is never readable by others, even for a moment.
    const fd = openSync(destination, 'wx', file.mode);
    try {
        writeAllSync(fd, file.content);
        fchmodSync(fd, file.mode); // umask may have narrowed the mode given to open
    }
    finally {
        closeSync(fd);
    }
    // Only root can give files to uid 0; others get a tree to copy with `cp -a`/rsync as root.
    if (process.getuid?.() === 0)
        chownSync(destination, file.uid, file.gid);
}
// ---- verify: a tree as it is now -------------------------------------------------------------------
function readDirOutput(root, request) {
    const owners = asRoot();
    const rootStats = lstatSync(root);
    let entries;
    try {
        entries = walkTree(root);
    }
    catch (error) {
        if (error instanceof OutputUnreadable)
            throw error;
        throw new OutputUnreadable(`the tree cannot be read (${messageOf(error)})`);
    }
    const problems = [];
    const files = new Map();
    const wantedFolders = new Set();
    for (const [wanted, limit] of request.files) {
        for (const folder of foldersAbove(wanted))
            wantedFolders.add(folder);
        const entry = entries.get(wanted);
        if (entry?.kind !== 'file') {
            files.set(wanted, null);
            continue;
        }
        let read;
        try {
            read = readCapped(hostPath(root, wanted), limit);
        }
        catch (error) {
            problems.push(`${wanted} cannot be read (${messageOf(error)})`);
            files.set(wanted, null);
            continue;
        }
        const { stats } = entry;
        files.set(wanted, { mode: stats.mode & 0o7777, uid: owners ? stats.uid : null, gid: owners ? stats.gid : null, ...read });
    }
    const folders = new Map();
    for (const folder of wantedFolders) {
        const stats = folder === '/' ? rootStats : entries.get(folder)?.kind === 'folder' ? entries.get(folder).stats : undefined;
        folders.set(folder, stats ? { mode: stats.mode & 0o7777, uid: owners ? stats.uid : null, gid: owners ? stats.gid : null } : null);
    }
    const extras = [];
    for (const [devicePath, entry] of entries) {
        if (entry.kind === 'link')
            problems.push(`${devicePath} is a symbolic link (to ${linkTarget(hostPath(root, devicePath))}); verify does not follow links, and credbake writes none`);
        else if (entry.kind === 'other')
            problems.push(`${devicePath} is ${kindOf(entry.stats)}`);
        else if (entry.kind === 'folder' ? !wantedFolders.has(devicePath) : !request.files.has(devicePath))
            extras.push(entry.kind === 'folder' ? `${devicePath}/` : devicePath);
    }
    // The tree digest covers every file: with anything more or less in the tree it is a different
    // tree, and each difference is already a problem of its own (nothing unasked is read).
    const complete = extras.length === 0 && problems.length === 0 && [...files.values()].every((file) => file?.content);
    const sha256 = complete ? treeDigest([...files].map(([file, found]) => ({ path: file, mode: found.mode, uid: 0, gid: 0, content: found.content }))) : null;
    return { sha256, files, listings: new Map(), folders, extras, problems };
}
const dirFormat = {
    name: 'dir',
    summary: 'a tree',
    folder: FOLDER$1,
    takesImage: false,
    tree: true,
    noun: 'tree',
    largeOutputs: false,
    outputPath: (serial) => `${FOLDER$1}/${serial}`,
    lookInside: (output) => [`  Look inside one device's folder:     ls -lR ${output}`],
    open: async (settings) => new DirSink(settings.outputDir, settings.ostreeOs),
    workerWriter: (spec) => new DirWriter(spec.outputDir),
    read: async (context, device, request) => {
        const target = outputTarget(context, device);
        if (!lstatOutput(target, device).isDirectory())
            throw new OutputUnreadable(`output ${device.output.path} is not a folder`);
        return readDirOutput(target, request);
    }
};

// Formats "image" and "partition": per device, a copy of the base image (or of just the selected
// partition) with the bundle written into the partition's file system. Their sink
// (image-sink.ts: debugfs/mtools, copies, hashing threads) and verify's reader (image-read.ts)
// are loaded only when a run uses them: tar and dir runs, and the device workers, never pay for it.
/** Extensions an image output keeps from its base image's name; any other becomes `.img`. */
const IMAGE_EXTENSIONS = ['.img', '.wic', '.sdimg', '.rpi-sdimg', '.raw', '.bin', '.iso', '.hddimg'];
/** `images/SERIAL<ext of the base image>[.gz|.xz|.zst]`; undefined without the base image's name. */
function imageOutputPath(serial, run) {
    if (run.image === undefined)
        return undefined;
    const ext = path.extname(path.basename(run.image).replace(/\.(gz|xz|zst|zstd)$/i, '')).toLowerCase();
    return `images/${serial}${IMAGE_EXTENSIONS.includes(ext) ? ext : '.img'}${compressionExtension(run.compress)}`;
}
function inspectLines(command) {
    return ["  Look inside one device's output (files, modes, owners; nothing mounted):", `    ${command}`];
}
const imageFormat = {
    name: 'image',
    summary: 'a full image',
    folder: 'images',
    takesImage: true,
    tree: false,
    noun: 'image',
    largeOutputs: true,
    outputPath: imageOutputPath,
    lookInside: (output, credbake, partition) => inspectLines(`${credbake} inspect --files${partition === undefined ? '' : ` --partition ${partition}`} ${output}`),
    open: async (settings, context) => (await import('../formats/image-sink.js')).ImageSink.open(imageFormat, true, settings, context),
    read: async (context, device, request) => (await import('../formats/image-read.js')).readImageOutput(context, device, request, true)
};
const partitionFormat = {
    name: 'partition',
    summary: 'only the selected partition',
    folder: 'partitions',
    takesImage: true,
    tree: false,
    noun: 'image',
    largeOutputs: true,
    outputPath: (serial, run) => `partitions/${serial}.img${compressionExtension(run.compress)}`,
    // The output is the partition's file system itself: nothing to select.
    lookInside: (output, credbake) => inspectLines(`${credbake} inspect --files ${output}`),
    open: async (settings, context) => (await import('../formats/image-sink.js')).ImageSink.open(partitionFormat, false, settings, context),
    read: async (context, device, request) => (await import('../formats/image-read.js')).readImageOutput(context, device, request, false)
};

const BLOCK$1 = 512;
const MAGIC = 'ustar\u0000';
const VERSION = '00';
/**
 * The archive of `files` (absolute device paths become relative entry names), with a directory
 * entry (0755, root) before the first file below each folder, so extraction as root over the
 * root file system yields the right tree. `mtime` is the same for every entry of a run.
 */
function tarArchive(files, mtime) {
    const { pieces, size } = tarPieces(files, mtime);
    // One zero-filled buffer: padding and the two end blocks are already in place.
    const archive = Buffer.alloc(size);
    let at = 0;
    for (const bytes of pieces) {
        bytes.copy(archive, at);
        at += bytes.length;
        if (bytes.length % BLOCK$1)
            at += BLOCK$1 - (bytes.length % BLOCK$1);
    }
    return archive;
}
/** The two zero blocks that end an archive. */
const END_BYTES = 2 * BLOCK$1;
/**
 * The archive as its pieces in order: headers (whole blocks, shared by every archive of a run that
 * has the entry) and file contents (each padded with zeros to a block); `size` counts padding and
 * the end blocks.
 */
function tarPieces(files, mtime) {
    const seconds = Math.floor(mtime.getTime() / 1000);
    const pieces = [];
    const written = new Set();
    let size = 0;
    const add = (entry, content) => {
        const header = cachedHeader(entry);
        pieces.push(header);
        size += header.length;
        if (!content || content.length === 0)
            return;
        pieces.push(content);
        size += content.length + ((BLOCK$1 - (content.length % BLOCK$1)) % BLOCK$1);
    };
    for (const file of files) {
        const { dirs, name } = splitPath(file.path);
        for (const dir of dirs) {
            if (written.has(dir))
                continue;
            written.add(dir);
            add({ name: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: seconds });
        }
        add({ name, type: 'file', mode: file.mode, uid: file.uid, gid: file.gid, size: file.content.length, mtime: seconds }, file.content);
    }
    return { pieces, size: size + END_BYTES };
}
// A run writes the same few entries for every device (the same folders, names, modes and mtime;
// only a certificate's length may differ by a byte): their headers are made once and reused.
const MAX_CACHED = 1024;
const headers = new Map();
const paths = new Map();
/** The entry's header blocks as one buffer (a whole number of blocks). */
function cachedHeader(entry) {
    const key = `${entry.type} ${entry.mode} ${entry.uid} ${entry.gid} ${entry.size} ${entry.mtime} ${entry.name}`;
    let header = headers.get(key);
    if (!header) {
        if (headers.size >= MAX_CACHED)
            headers.clear();
        header = Buffer.concat(headerBlocks(entry));
        headers.set(key, header);
    }
    return header;
}
/** An absolute device path as a relative entry name and the folder entries above it ("var/", "var/sota/"). */
function splitPath(devicePath) {
    let split = paths.get(devicePath);
    if (!split) {
        const parts = devicePath.split('/').filter(Boolean);
        const dirs = [];
        for (let depth = 1; depth < parts.length; depth++)
            dirs.push(`${parts.slice(0, depth).join('/')}/`);
        split = { dirs, name: parts.join('/') };
        if (paths.size >= MAX_CACHED)
            paths.clear();
        paths.set(devicePath, split);
    }
    return split;
}
/** The header of one entry; two headers (pax, then ustar) when the name does not fit ustar. */
function headerBlocks(entry) {
    const split = splitName(entry.name);
    if (split)
        return [ustarHeader(entry, split.name, split.prefix)];
    // A pax 'x' header carries the whole path; the ustar header after it holds a shortened stand-in
    // for readers that know no pax (they extract under the wrong name rather than not at all).
    const records = paxRecord('path', entry.name);
    const pax = ustarHeader({ ...entry, type: 'pax', mode: 0o644, size: records.length }, asciiTail(`PaxHeader/${entry.name}`), '');
    const pad = Buffer.alloc((BLOCK$1 - (records.length % BLOCK$1)) % BLOCK$1);
    return [pax, records, pad, ustarHeader(entry, asciiTail(entry.name), '')];
}
/** ustar's name/prefix split at a '/', or undefined when the path needs a pax header. */
function splitName(name) {
    if (!/^[\x20-\x7e]*$/.test(name))
        return undefined;
    if (name.length <= 100)
        return { name, prefix: '' };
    // The prefix takes as much of the front as fits, ending before a '/'.
    for (let cut = name.indexOf('/'); cut !== -1; cut = name.indexOf('/', cut + 1)) {
        const rest = name.slice(cut + 1);
        if (rest.length <= 100 && cut <= 155)
            return { name: rest, prefix: name.slice(0, cut) };
    }
    return undefined;
}
function ustarHeader(entry, name, prefix) {
    const header = Buffer.alloc(BLOCK$1);
    header.write(name, 0, 100, 'latin1');
    header.write(octal(entry.mode & 0o7777, 6), 100, 'latin1');
    header.write(octal(entry.uid, 6), 108, 'latin1');
    header.write(octal(entry.gid, 6), 116, 'latin1');
    header.write(octal(entry.size, 11), 124, 'latin1');
    header.write(octal(entry.mtime, 11), 136, 'latin1');
    header[156] = entry.type === 'file' ? 0x30 : entry.type === 'directory' ? 0x35 : 0x78; // '0' '5' 'x'
    header.write(MAGIC, 257, 'latin1');
    header.write(VERSION, 263, 'latin1');
    header.write('root', 265, 'latin1'); // uname: entries are owned by 0:0
    header.write('root', 297, 'latin1'); // gname
    header.write(octal(0, 6), 329, 'latin1'); // devmajor
    header.write(octal(0, 6), 337, 'latin1'); // devminor
    if (prefix)
        header.write(prefix, 345, 155, 'latin1');
    // The checksum is the byte sum of the header with its own field read as eight spaces.
    let sum = 8 * 0x20;
    for (let index = 0; index < BLOCK$1; index++)
        if (index < 148 || index >= 156)
            sum += header[index];
    header.write(octal(sum, 6), 148, 'latin1');
    return header;
}
/** `digits` octal digits and a space (the field's last byte stays NUL). */
function octal(value, digits) {
    const text = value.toString(8);
    if (text.length > digits)
        throw new RangeError(`tar header field overflow (${value})`);
    return `${text.padStart(digits, '0')} `;
}
/** One pax record, "LENGTH key=value\n", where LENGTH counts the whole record, itself included. */
function paxRecord(key, value) {
    const body = ` ${key}=${value}\n`;
    const bodyLength = Buffer.byteLength(body);
    let length = bodyLength + String(bodyLength).length;
    if (String(length).length !== String(bodyLength).length)
        length = bodyLength + String(length).length;
    return Buffer.from(`${length}${body}`, 'utf8');
}
/** The last `max` characters of `text` in printable ASCII (non-ASCII as '_'). */
function asciiTail(text, max) {
    return text.replace(/[^\x20-\x7e]/g, '_').slice(-100);
}

// The entries of a tar archive held in memory (a decompressed overlay of a few KiB): POSIX ustar
// headers, pax 'x' records (path, linkpath, size, uid, gid) and GNU long names, each header's
// checksum checked. Nothing is copied: contents are views of the archive. Stricter and far cheaper
// per archive than a stream extractor, and nothing in it can make verify write a file.
const BLOCK = 512;
class TarFormatError extends Error {
}
function text(block, start, length) {
    const field = block.subarray(start, start + length);
    const end = field.indexOf(0);
    return field.toString('utf8', 0, end === -1 ? length : end);
}
function number(block, start, length, what) {
    const first = block[start];
    // GNU base-256: the first byte's top bit set.
    if (first & 0x80) {
        let value = first & 0x7f;
        for (let i = start + 1; i < start + length; i++)
            value = value * 256 + block[i];
        if (!Number.isSafeInteger(value))
            throw new TarFormatError(`its ${what} field is out of range`);
        return value;
    }
    // Octal digits, with leading spaces and a trailing NUL or space.
    let value = 0;
    let i = start;
    const end = start + length;
    while (i < end && block[i] === 0x20)
        i++;
    let digits = 0;
    for (; i < end; i++) {
        const c = block[i];
        if (c >= 0x30 && c <= 0x37) {
            value = value * 8 + (c - 0x30);
            digits++;
        }
        else
            break;
    }
    for (; i < end; i++) {
        const c = block[i];
        if (c !== 0 && c !== 0x20)
            throw new TarFormatError(`its ${what} field is not an octal number`);
    }
    return digits === 0 ? 0 : value;
}
function checksumOk(block) {
    const recorded = number(block, 148, 8, 'checksum');
    // The sum of the header's bytes with the checksum field read as eight spaces.
    let unsigned = 8 * 0x20;
    for (let i = 0; i < 148; i++)
        unsigned += block[i];
    for (let i = 156; i < BLOCK; i++)
        unsigned += block[i];
    if (recorded === unsigned)
        return true;
    // Some old writers summed signed bytes.
    let signed = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++) {
        if (i >= 148 && i < 156)
            continue;
        const byte = block[i];
        signed += byte > 127 ? byte - 256 : byte;
    }
    return recorded === signed;
}
/** "key=value" records of a pax extended header. */
function paxRecords(data) {
    const records = new Map();
    let at = 0;
    while (at < data.length) {
        const space = data.indexOf(0x20, at);
        if (space === -1)
            throw new TarFormatError('a pax record has no length');
        const length = Number(data.toString('latin1', at, space));
        if (!Number.isInteger(length) || length <= 0 || at + length > data.length)
            throw new TarFormatError('a pax record has a bad length');
        const record = data.toString('utf8', space + 1, at + length - 1);
        const equals = record.indexOf('=');
        if (equals === -1)
            throw new TarFormatError('a pax record has no "="');
        records.set(record.slice(0, equals), record.slice(equals + 1));
        at += length;
    }
    return records;
}
function zeros(bytes, from, to) {
    for (let i = from; i < to; i++)
        if (bytes[i] !== 0)
            return false;
    return true;
}
function devicePath(name) {
    // The usual names ("var/sota/import/", "var/sota/import/pkey.pem") without splitting them.
    if (!name.startsWith('/') && !name.startsWith('.') && !name.includes('//') && !name.includes('/./') && !name.includes('/../')) {
        return `/${name.endsWith('/') ? name.slice(0, -1) : name}`;
    }
    const parts = name.split('/').filter((part) => part !== '' && part !== '.');
    return `/${parts.join('/')}`;
}
const TYPES = { '0': 'file', '\0': 'file', '7': 'file', '5': 'directory', '2': 'symlink', '1': 'hardlink' };
/** Every entry of `archive`, in order. Throws TarFormatError when it is not a tar archive. */
function tarEntries(archive) {
    const entries = [];
    let pax;
    let longName;
    let longLink;
    let at = 0;
    for (;;) {
        if (at + BLOCK > archive.length) {
            // An archive ends with zero blocks; GNU tar and others accept one that just stops.
            if (zeros(archive, at, archive.length))
                break;
            throw new TarFormatError('it ends inside a header');
        }
        const header = archive.subarray(at, at + BLOCK);
        if (header[0] === 0 && zeros(archive, at, at + BLOCK))
            break;
        if (!checksumOk(header))
            throw new TarFormatError(`the header at byte ${at} has a wrong checksum`);
        const flag = String.fromCharCode(header[156]);
        const size = number(header, 124, 12, 'size');
        const dataStart = at + BLOCK;
        const dataEnd = dataStart + size;
        if (dataEnd > archive.length)
            throw new TarFormatError(`the entry at byte ${at} runs past the end of the archive`);
        const data = archive.subarray(dataStart, dataEnd);
        at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
        if (flag === 'x') {
            pax = paxRecords(data);
            continue;
        }
        if (flag === 'g')
            continue;
        if (flag === 'L' || flag === 'K') {
            const value = data.toString('utf8').replace(/\0+$/, '');
            if (flag === 'L')
                longName = value;
            else
                longLink = value;
            continue;
        }
        const magic = header.toString('latin1', 257, 262);
        const prefix = magic === 'ustar' ? text(header, 345, 155) : '';
        const name = pax?.get('path') ?? longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
        const linkTarget = pax?.get('linkpath') ?? longLink ?? text(header, 157, 100);
        const paxNumber = (key, fallback) => {
            const value = pax?.get(key);
            return value !== undefined && /^\d+$/.test(value) ? Number(value) : fallback;
        };
        const type = TYPES[flag] ?? 'other';
        entries.push({
            path: devicePath(name),
            type,
            flag,
            mode: number(header, 100, 8, 'mode') & 0o7777,
            uid: paxNumber('uid', number(header, 108, 8, 'uid')),
            gid: paxNumber('gid', number(header, 116, 8, 'gid')),
            content: data,
            ...(type === 'symlink' || type === 'hardlink' ? { linkTarget } : {})
        });
        pax = undefined;
        longName = undefined;
        longLink = undefined;
    }
    return entries;
}

// Sink "tar": output-dir/overlays/SERIAL.tar.gz, an overlay to extract over the root file system
// (`tar -xzpf SERIAL.tar.gz -C /mnt/rootfs`). Entries carry the device paths (relative), modes,
// uid/gid 0 and a directory entry for every parent, so extraction as root yields the right tree.
// TarWriter does the work synchronously, so the device workers write overlays themselves (the
// sink's `writer`).
//
// The .tar.gz is zlib's gzipSync at level 1 over the archive (tar-archive.ts). A hand-written
// fixed-Huffman DEFLATE encoder did this until 2026-12-07; it went because the tar floor holds
// without it. Measured that day in alternating `npm run bench` runs (tar only, 20,000 devices, a
// shared 2-core machine at load 8-11), tmpfs: own encoder 301 and 306 µs of CPU per device (all
// threads), node:zlib 360 and 376 µs (about 20% more), fflate 491 µs; floor (tmpfs bake against
// the node:crypto loop) own 1.67x and 0.91x, node:zlib 2.31x and 5.42x, fflate 0.75x: at that load
// the wall-time ratio follows the load, and by CPU node:zlib stays near 1.5x the loop on 1.6 busy
// cores. Per overlay: own 17-24 µs, gzipSync 40-91 µs (its ~256 KiB stream state set up per call),
// fflate 141-403 µs; overlays are about 1.0 KiB with zlib (1.5 KiB with the fixed codes).
/** output-dir/overlays/SERIAL.tar.gz */
const FOLDER = 'overlays';
const EXTENSION = '.tar.gz';
/** zlib's level for overlays: for PEM text within a few percent of level 6 at half the cost. */
const GZIP_LEVEL = 1;
/** Allocated bytes of one overlay (measured: about 1.5 KiB of file in one 4 KiB block, rounded). */
const OVERLAY_BYTES = 8 * 1024;
class TarWriter {
    mtime;
    root;
    /** `root` relative to output-dir with POSIX separators, as outputs are recorded. */
    recordedRoot;
    rootReady = false;
    /**
     * This writer's own folder for archives being written (overlays/.staging.tmp-PID-RANDOM, a
     * temporary name that removeLeftoverTemps clears after a crash; inside overlays/, so the rename
     * never leaves its file system), made for a batch and removed by `idle`. Creating a file takes its folder's lock while the file system finds it
     * an inode: in a folder of their own, two workers do not queue for overlays/ (on ext4 after large
     * deletes a create costs ~0.1 ms there and waiters spin); only the rename into it is shared.
     */
    staging;
    constructor(outputDir, mtime) {
        this.mtime = mtime;
        this.root = path.join(outputDir, FOLDER);
        this.recordedRoot = path.relative(outputDir, this.root).split(path.sep).join('/');
    }
    write(device, files) {
        // A serial is one plain file name (the manifest allows A-Z a-z 0-9 . _ -, no leading dot).
        const name = `${device.serial}${EXTENSION}`;
        const target = `${this.root}${path.sep}${name}`;
        let temp;
        let archive;
        try {
            // Entries at sysroot paths when the bundle has them (ostree-os), else at device paths.
            archive = gzipSync(tarArchive(placedFiles(files), this.mtime), { level: GZIP_LEVEL });
            if (!this.rootReady) {
                // overlays/ is made here or checked to be a real folder: never a planted link.
                ensureFolderSync(this.root);
                this.rootReady = true;
            }
            if (this.staging === undefined) {
                const staging = tempIn(this.root, 'staging');
                mkdirSync(staging, { mode: 0o700 });
                this.staging = staging;
            }
            temp = tempIn(this.staging, name);
            // The archive holds the device key: 0600 from creation on, whatever the umask (which can
            // only narrow the mode given to open, so it is set again explicitly).
            const fd = openSync(temp, 'wx', 0o600);
            try {
                fchmodSync(fd, 0o600);
                writeAllSync(fd, archive);
            }
            finally {
                closeSync(fd);
            }
            renameSync(temp, target);
        }
        catch (error) {
            if (temp !== undefined)
                rmSync(temp, { force: true });
            throw wrapWriteError(error, device, target);
        }
        return {
            path: `${this.recordedRoot}/${name}`,
            size: archive.length,
            sha256: sha256Hex(archive),
            files: describeFiles(files, { modes: true, owners: true })
        };
    }
    /** Remove the staging folder (empty: every archive in it was renamed into place or removed). */
    idle() {
        if (this.staging === undefined)
            return;
        const staging = this.staging;
        this.staging = undefined;
        rmSync(staging, { recursive: true, force: true });
    }
}
class TarSink {
    outputDir;
    format = tarFormat.name;
    space = { bytesPerOutput: OVERLAY_BYTES, basis: 'an overlay of a few KiB' };
    writer;
    /** With ostree-os: the overlays hold sysroot paths, to extract into a mounted otaroot. */
    ostree;
    /** `mtime` is the same for every entry of the run, so outputs differ only by what they hold. */
    constructor(outputDir, mtime, ostreeOs) {
        this.outputDir = outputDir;
        this.writer = { format: tarFormat.name, outputDir, mtime: mtime.toISOString() };
        if (ostreeOs !== undefined)
            this.ostree = { os: ostreeOs, sysrootPaths: true };
    }
    verify(output) {
        return fileMatches(path.join(this.outputDir, output.path), output.sha256);
    }
    async close() { }
}
// ---- verify: an overlay as it is now --------------------------------------------------------------
/** Most bytes an overlay may decompress to on top of the files it should hold. */
const OVERLAY_SLACK = 1 << 20;
/** However large the manifest says the files are, an overlay is not decompressed beyond this. */
const MAX_OVERLAY_BYTES = 64 << 20;
/** Most bytes an overlay holding these files may decompress to. */
function overlayCap(request) {
    let total = OVERLAY_SLACK;
    for (const limit of request.files.values())
        total += limit + 3 * 512;
    return Math.min(total, MAX_OVERLAY_BYTES);
}
async function readTarOutput(file, device, request) {
    const cap = overlayCap(request);
    const where = `output ${device.output.path}`;
    let read;
    try {
        read = readCapped(file, cap);
    }
    catch (error) {
        const code = error.code;
        if (code === 'ENOENT')
            throw new OutputUnreadable(`${where} is missing`);
        if (code === 'ELOOP')
            throw new OutputUnreadable(`${where} is a symbolic link (to ${linkTarget(file)}); verify does not follow links`);
        throw new OutputUnreadable(code === 'ENOTFILE' ? `${where} is not a file (${messageOf(error)})` : `${where} cannot be read (${messageOf(error)})`);
    }
    if (!read.content) {
        // gzip never makes data much larger than it was: this is not an overlay of these files.
        const sha256 = await sha256File(file).catch(() => null);
        return {
            sha256,
            files: new Map(),
            listings: new Map(),
            problems: [`${where} is ${read.size} bytes, more than an overlay of the files the manifest lists can be (at most ${cap}); verify does not open it`],
            opened: false
        };
    }
    const sha256 = sha256Hex(read.content);
    let entries;
    try {
        // Decompressed in memory only up to `cap`: a small file that inflates to gigabytes (a gzip
        // bomb) stops there, costing no more memory than a real overlay.
        entries = tarEntries(gunzipSync(read.content, { maxOutputLength: cap }));
    }
    catch (error) {
        if (error.code === 'ERR_BUFFER_TOO_LARGE') {
            return {
                sha256,
                files: new Map(),
                listings: new Map(),
                problems: [`${where} decompresses to more than ${cap} bytes, more than an overlay of the files the manifest lists can hold; verify stopped there`],
                opened: false
            };
        }
        const why = error instanceof TarFormatError ? `not a tar archive: ${error.message}` : messageOf(error);
        throw new OutputUnreadable(`${where} is not a readable .tar.gz (${why})`);
    }
    const problems = [];
    const byPath = new Map();
    for (const entry of entries) {
        if (byPath.has(entry.path))
            problems.push(`${where} holds ${entry.path} twice (extraction keeps the last)`);
        byPath.set(entry.path, entry);
    }
    const files = new Map();
    const wantedFolders = new Set();
    for (const [wanted, limit] of request.files) {
        for (const folder of foldersAbove(wanted))
            wantedFolders.add(folder);
        const entry = byPath.get(wanted);
        if (entry?.type !== 'file') {
            files.set(wanted, null);
            continue;
        }
        const size = entry.content.length;
        files.set(wanted, { mode: entry.mode, uid: entry.uid, gid: entry.gid, content: size > limit ? null : entry.content, size });
    }
    // The archive's root ("./") is not an entry credbake writes: extraction would apply its mode to
    // the folder it is extracted into.
    wantedFolders.delete('/');
    const folders = new Map();
    for (const folder of wantedFolders) {
        const entry = byPath.get(folder);
        folders.set(folder, entry?.type === 'directory' ? { mode: entry.mode, uid: entry.uid, gid: entry.gid } : null);
    }
    const extras = [];
    for (const entry of byPath.values()) {
        if (entry.type === 'symlink' || entry.type === 'hardlink')
            problems.push(`${entry.path} is a ${entry.type === 'symlink' ? 'symbolic' : 'hard'} link (to ${JSON.stringify(entry.linkTarget ?? '')}); credbake writes none`);
        else if (entry.type === 'other')
            problems.push(`${entry.path} is a tar entry of type "${entry.flag}", not a file or folder`);
        else if (entry.type === 'directory' ? !wantedFolders.has(entry.path) : !request.files.has(entry.path))
            extras.push(entry.type === 'directory' ? `${entry.path}/` : entry.path);
    }
    return { sha256, files, listings: new Map(), folders, extras, problems };
}
const tarFormat = {
    name: 'tar',
    summary: 'a .tar.gz overlay',
    folder: FOLDER,
    takesImage: false,
    tree: false,
    noun: 'archive',
    largeOutputs: false,
    // A serial is one plain file name (the manifest allows A-Z a-z 0-9 . _ -, no leading dot).
    outputPath: (serial) => `${FOLDER}/${serial}${EXTENSION}`,
    lookInside: (output) => [`  Look inside one device's overlay:    tar -tvzf ${output}`],
    open: async (settings, context) => new TarSink(settings.outputDir, context.mtime, settings.ostreeOs),
    workerWriter: (spec) => new TarWriter(spec.outputDir, new Date(spec.mtime)),
    // An overlay is opened without following a link and read at once (no separate lstat).
    read: async (context, device, request) => readTarOutput(outputTarget(context, device), device, request)
};

// Every output format, in the order the `format` input lists them. A new format is one file in this
// folder exporting its OutputFormat record and one line here; the settings, the bake, the review,
// verify, merge, the demo and the inputs table all ask this list. (The manifest schema's enum and
// the docs table in docs/images.md are checked against it by test/formats/registry.test.ts.)
const OUTPUT_FORMATS = [imageFormat, partitionFormat, tarFormat, dirFormat];
/** The names the `format` input accepts. */
OUTPUT_FORMATS.map((format) => format.name);
/** The folders of output-dir that hold per-device outputs (the trust boundary accepts paths in these only). */
OUTPUT_FORMATS.map((format) => format.folder);
/** The format called `name`, or undefined (a manifest of another credbake, or a damaged one). */
function findFormat(name) {
    return OUTPUT_FORMATS.find((format) => format.name === name);
}
/** The format called `name`; `name` comes from parsed settings or a checked journal, so it is one. */
function outputFormat(name) {
    const format = findFormat(name);
    if (!format)
        throw new Error(`internal: no output format "${name}"`);
    return format;
}

// What shapes each certificate and its files, as the journal records it: the run's basis (key
// type, lifetime, profile, bundle inputs) and each device's (device ID, rendered subject and SAN,
// CSR). A device is resumed only when both are unchanged; the same functions compute them when a
// certificate is issued and when a later run compares, so they cannot drift apart.
/** Computes device bases for one profile (templates parsed once). */
class DeviceBasisMaker {
    subject;
    san;
    constructor(profile) {
        this.subject = validateSubjectTemplate(profile.subject);
        if (profile.san !== undefined)
            this.san = validateSanTemplate(profile.san);
    }
    of(device) {
        return {
            deviceId: device.deviceId,
            subject: renderSubject(this.subject, device).text,
            sanSha256: this.san ? sha256Hex(renderSan(this.san, device)) : null,
            csrSha256: device.csr === undefined ? null : csrDigest(device.csr)
        };
    }
}
function csrDigest(file) {
    try {
        return sha256Hex(readFileSync(file));
    }
    catch {
        // Unreadable now: issuance reports it with the row's file:line; here it only means "changed".
        return 'unreadable';
    }
}

// The journal records of one device's certificate and output, made the same way on the main
// thread (image sinks) and in device workers (tar, dir), so both paths journal alike.
function issuedRecord(run, basisMaker, credential, replaces) {
    const basis = basisMaker.of(credential.device);
    // The subjectAltName as the certificate holds it, for the review (only when the profile has one).
    const san = basis.sanSha256 === null ? undefined : sanOfCertificate(credential.certificateDer);
    return {
        type: 'issued',
        run,
        at: new Date().toISOString(),
        serial: credential.device.serial,
        basis,
        certificate: {
            serialNumber: credential.serialNumber,
            sha256: credential.sha256,
            subject: credential.subject,
            publicKeySha256: credential.publicKeySha256,
            notBefore: credential.notBefore.toISOString(),
            notAfter: credential.notAfter.toISOString(),
            keySource: credential.privateKeyPem === undefined ? 'csr' : 'generated',
            ...(san !== undefined ? { san } : {}),
            pem: credential.certificatePem
        },
        ...(replaces ? { replaces } : {})
    };
}
function writtenRecord(run, serial, certificateSha256, output) {
    return {
        type: 'written',
        run,
        at: new Date().toISOString(),
        serial,
        certificateSha256,
        output: {
            path: output.path,
            size: output.size,
            sha256: output.sha256,
            ...(output.partition ? { partition: output.partition } : {}),
            ...(output.bmap ? { bmap: output.bmap } : {})
        },
        files: output.files.map((file) => ({ ...file }))
    };
}

/** The device workers' handler: one DeviceWork, its methods by name. */
function deviceHandler(init) {
    const work = new DeviceWork(init);
    return (request) => {
        switch (request.method) {
            case 'issue':
                return work.issue(request.id, request.orders);
            case 'seal':
                return work.seal(request.id, request.signatures);
            case 'write':
                return work.write(request.id);
            case 'hand':
                return work.hand(request.id);
            case 'drop':
                return work.drop(request.id);
        }
    };
}
class DeviceWork {
    init;
    batches = new Map();
    basisMaker;
    writer;
    constructor(init) {
        this.init = init;
        this.basisMaker = new DeviceBasisMaker(init.profile);
        if (init.writer) {
            const open = outputFormat(init.writer.format).workerWriter;
            if (!open)
                throw new Error(`internal: format ${init.writer.format} has no worker writer`);
            this.writer = open(init.writer);
        }
    }
    issue(id, orders) {
        const { ca, profile, now, key } = this.init;
        if (key) {
            const credentials = orders.map((order) => issueCredential(ca, profile, order.device, now, key));
            this.batches.set(id, { orders, credentials });
            return { issued: this.issuedLines(orders, credentials) };
        }
        const unsigned = orders.map((order) => buildTbs(ca, profile, order.device, now));
        this.batches.set(id, { orders, unsigned });
        return { tbs: unsigned.map((item) => item.tbs) };
    }
    /** The certificates around the signer's signatures, each checked first (sealSigned): a bad one throws, and nothing of the batch is journaled. */
    seal(id, signatures) {
        const batch = this.batch(id);
        const unsigned = batch.unsigned ?? [];
        const signer = this.init.signer ?? 'the fleet CA signer';
        batch.credentials = unsigned.map((item, index) => sealSigned(this.init.ca, item, signatures[index], signer));
        batch.unsigned = undefined;
        return { issued: this.issuedLines(batch.orders, batch.credentials) };
    }
    /** Write the batch's outputs one after another; none after a failure. Forgets the batch. */
    write(id) {
        const batch = this.batch(id);
        this.batches.delete(id);
        const writer = this.writer;
        if (!writer)
            throw new Error('internal: this format is written on the main thread, not by device workers');
        const result = { written: [], paths: [] };
        for (const credential of batch.credentials ?? []) {
            try {
                const output = writer.write(credential.device, buildBundle(credential, this.init.bundle));
                result.written.push(encodeRecord(writtenRecord(this.init.run, credential.device.serial, credential.sha256, output)));
                result.paths.push(output.path);
            }
            catch (error) {
                result.error = serializeError(error);
                break;
            }
        }
        try {
            writer.idle?.();
        }
        catch (error) {
            result.error ??= serializeError(error);
        }
        return result;
    }
    /** The batch's bundles, for the main thread's sink (images), in device order. Forgets the batch. */
    hand(id) {
        const batch = this.batch(id);
        this.batches.delete(id);
        return (batch.credentials ?? []).map((credential) => ({
            device: credential.device,
            certificateSha256: credential.sha256,
            files: buildBundle(credential, this.init.bundle)
        }));
    }
    /** Forget a batch that will not be written (the run is failing). */
    drop(id) {
        this.batches.delete(id);
    }
    issuedLines(orders, credentials) {
        return credentials.map((credential, index) => encodeRecord(issuedRecord(this.init.run, this.basisMaker, credential, orders[index]?.replaces)));
    }
    batch(id) {
        const batch = this.batches.get(id);
        if (!batch)
            throw new Error(`internal: no batch ${id} in this issuance worker`);
        return batch;
    }
}

// The device worker: dist/device-worker.js (or, from src/ and where that bundle is missing, the
// running file itself) started as a worker thread of the device pool. Its init makes its one
// DeviceWork (the fleet CA, and the CA key when it is in memory; KeyObjects cross threads by
// structured clone, never as text); it answers the calls after it in the order they come.
const DEVICE_WORKER_ROLE = 'credbake-device-worker';
/** When this thread is a device worker, serve calls and return true; else false. */
function runIfDeviceWorker() {
    return serveWorker(DEVICE_WORKER_ROLE, deviceHandler);
}

// dist/device-worker.js: the device workers' own bundle. The device pool starts its worker threads
// from it when it lies beside the running bundle (dist/index.js, dist/cli.js), so each worker
// parses and evaluates only what a device worker runs, not the whole action or CLI.
if (!runIfDeviceWorker()) {
    throw new Error("dist/device-worker.js runs only as a worker thread of credbake's device pool; run dist/cli.js or dist/index.js instead");
}
