/* The part of WebCrypto that yidang's pages use, over the audited @noble libraries
 * (@noble/curves, @noble/hashes, @noble/ciphers; fetched and verified by scripts/vendor.py).
 *
 * Only for a school that opted in (mkdocs.yml: plain_http: true) and opens its site
 * over plain http on its LAN, where browsers withhold crypto.subtle. The same keys,
 * formats and algorithms as WebCrypto: PBKDF2-HMAC-SHA256, ECDH and ECDSA on P-256,
 * HKDF-SHA256, AES-KW, AES-256-GCM. Keys stay in this page's memory, as there. The
 * page warns, for as long as it is open, that the connection is not encrypted: anyone
 * on the network could change the page itself. */
import { gcm, aeskw } from "@noble/ciphers/aes.js";
import { p256 } from "@noble/curves/nist.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";

const bytes = (x) => (x instanceof Uint8Array ? x : ArrayBuffer.isView(x)
  ? new Uint8Array(x.buffer, x.byteOffset, x.byteLength) : new Uint8Array(x));
const buffer = (u) => u.slice().buffer;  // an ArrayBuffer of exactly these bytes, as WebCrypto returns
const key = (name, material, usages) => ({ type: "secret", algorithm: { name }, material, usages, extractable: false });

function pkcs8Scalar(der) {
  // The 32-byte private scalar inside a P-256 PKCS#8 key: ECPrivateKey's version 1, then
  // the OCTET STRING of 32 bytes (02 01 01 04 20 …).
  for (let i = 0; i + 37 <= der.length; i++) {
    if (der[i] === 2 && der[i + 1] === 1 && der[i + 2] === 1 && der[i + 3] === 4 && der[i + 4] === 32) {
      return der.slice(i + 5, i + 37);
    }
  }
  throw new Error("not a P-256 private key");
}

const subtle = {
  async digest(algorithm, data) {
    return buffer(sha256(bytes(data)));
  },
  async importKey(format, data, algorithm, extractable, usages) {
    const name = typeof algorithm === "string" ? algorithm : algorithm.name;
    const material = format === "pkcs8" ? pkcs8Scalar(bytes(data)) : bytes(data).slice();
    return key(name, material, usages);
  },
  async deriveKey(params, base, derived, extractable, usages) {
    const length = (derived.length || 256) / 8;
    const material = params.name === "PBKDF2"
      ? await pbkdf2Async(sha256, base.material, bytes(params.salt), { c: params.iterations, dkLen: length })
      : hkdf(sha256, base.material, bytes(params.salt), bytes(params.info), length);
    return key(derived.name, material, usages);
  },
  async deriveBits(params, base, length) {
    if (params.name === "PBKDF2") {
      return buffer(await pbkdf2Async(sha256, base.material, bytes(params.salt), { c: params.iterations, dkLen: length / 8 }));
    }
    if (params.name === "HKDF") return buffer(hkdf(sha256, base.material, bytes(params.salt), bytes(params.info), length / 8));
    // ECDH: the x coordinate of the shared point
    return buffer(p256.getSharedSecret(base.material, params.public.material, true).slice(1, 1 + length / 8));
  },
  async unwrapKey(format, wrapped, kek, wrapAlgorithm, unwrappedAlgorithm, extractable, usages) {
    return key(unwrappedAlgorithm.name, aeskw(kek.material).decrypt(bytes(wrapped)), usages);
  },
  async decrypt(params, k, data) {
    return buffer(gcm(k.material, bytes(params.iv), params.additionalData && bytes(params.additionalData)).decrypt(bytes(data)));
  },
  async encrypt(params, k, data) {
    return buffer(gcm(k.material, bytes(params.iv), params.additionalData && bytes(params.additionalData)).encrypt(bytes(data)));
  },
  async sign(params, k, data) {  // ECDSA P-256 over SHA-256: r || s, as WebCrypto writes it
    return buffer(p256.sign(bytes(data), k.material));
  },
  async generateKey() {  // an ephemeral ECDH key pair
    const secret = p256.utils.randomSecretKey();
    return { privateKey: key("ECDH", secret, ["deriveBits"]), publicKey: key("ECDH", p256.getPublicKey(secret, false), []) };
  },
  async exportKey(format, k) {
    return buffer(k.material);
  },
};

window.ydSubtle = subtle;
dispatchEvent(new Event("yd-subtle"));
