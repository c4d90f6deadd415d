/* bench/floor.c: what one device's cryptography costs when OpenSSL is called directly from C, with
 * nothing of Node in between. bench/floor.js builds it (cc -O2 floor.c -lcrypto) when a C compiler
 * and OpenSSL 3's headers are there and prints its figures beside node:crypto's.
 *
 * Per device credbake makes a P-256 key pair and needs its raw private scalar and public point,
 * and signs a TBSCertificate with the fleet CA's P-256 key (ECDSA with SHA-256). Here:
 *   keygen  EVP_PKEY_keygen with one reused context, then the scalar (BN, 32 bytes) and the
 *           uncompressed point read back as parameters;
 *   sign    EVP_DigestSign with a new EVP_MD_CTX per signature (what node:crypto's sign() does);
 *   sign1   EVP_PKEY_sign over a SHA-256 digest with one reused context (the least OpenSSL does).
 * Output: one line per operation, "name microseconds", the best of `rounds` rounds of `count`.
 * Usage: floor COUNT ROUNDS TBS_BYTES */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec + now.tv_nsec * 1e-9;
}

static EVP_PKEY *p256_key(EVP_PKEY_CTX *keygen) {
  EVP_PKEY *key = NULL;
  if (EVP_PKEY_keygen(keygen, &key) != 1) {
    fprintf(stderr, "EVP_PKEY_keygen failed\n");
    exit(1);
  }
  return key;
}

int main(int argc, char **argv) {
  int count = argc > 1 ? atoi(argv[1]) : 20000;
  int rounds = argc > 2 ? atoi(argv[2]) : 3;
  size_t tbs_length = argc > 3 ? (size_t)atoi(argv[3]) : 400;
  unsigned char *tbs = calloc(tbs_length, 1);
  unsigned char point[133], scalar[66], digest[32], signature[160];
  double best_keygen = 1e9, best_sign = 1e9, best_sign1 = 1e9;

  EVP_PKEY_CTX *keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (!keygen || EVP_PKEY_keygen_init(keygen) != 1 || EVP_PKEY_CTX_set_group_name(keygen, "P-256") != 1) {
    fprintf(stderr, "cannot set up P-256 key generation\n");
    return 1;
  }
  EVP_PKEY *ca = p256_key(keygen);
  EVP_PKEY_CTX *signer = EVP_PKEY_CTX_new_from_pkey(NULL, ca, NULL);
  if (!signer || EVP_PKEY_sign_init(signer) != 1) {
    fprintf(stderr, "cannot set up signing\n");
    return 1;
  }

  for (int round = 0; round < rounds; round++) {
    double start = seconds();
    for (int i = 0; i < count; i++) {
      EVP_PKEY *key = p256_key(keygen);
      BIGNUM *priv = NULL;
      size_t length = 0;
      if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1 || BN_bn2binpad(priv, scalar, 32) != 32 ||
          EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &length) != 1 || length != 65) {
        fprintf(stderr, "cannot read the key pair back\n");
        return 1;
      }
      BN_clear_free(priv);
      EVP_PKEY_free(key);
    }
    double took = (seconds() - start) / count;
    if (took < best_keygen) best_keygen = took;

    start = seconds();
    for (int i = 0; i < count; i++) {
      EVP_MD_CTX *context = EVP_MD_CTX_new();
      size_t length = sizeof signature;
      tbs[i % tbs_length] ^= 1;
      if (!context || EVP_DigestSignInit_ex(context, NULL, "SHA256", NULL, NULL, ca, NULL) != 1 ||
          EVP_DigestSign(context, signature, &length, tbs, tbs_length) != 1) {
        fprintf(stderr, "EVP_DigestSign failed\n");
        return 1;
      }
      EVP_MD_CTX_free(context);
    }
    took = (seconds() - start) / count;
    if (took < best_sign) best_sign = took;

    start = seconds();
    for (int i = 0; i < count; i++) {
      size_t length = sizeof signature;
      tbs[i % tbs_length] ^= 1;
      SHA256(tbs, tbs_length, digest);
      if (EVP_PKEY_sign(signer, signature, &length, digest, sizeof digest) != 1) {
        fprintf(stderr, "EVP_PKEY_sign failed\n");
        return 1;
      }
    }
    took = (seconds() - start) / count;
    if (took < best_sign1) best_sign1 = took;
  }
  printf("keygen %.2f\nsign %.2f\nsign1 %.2f\n", best_keygen * 1e6, best_sign * 1e6, best_sign1 * 1e6);
  EVP_PKEY_CTX_free(signer);
  EVP_PKEY_free(ca);
  EVP_PKEY_CTX_free(keygen);
  free(tbs);
  return 0;
}
