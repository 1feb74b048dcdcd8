// Decrypts a SOPS YAML document with the npm package sops-age (an
// implementation Capstan's authors did not write) and prints the manifest
// as JSON on stdout. Capstan's capstan-sops tests run it with node.
//
// Usage: SOPS_AGE_KEY=AGE-SECRET-KEY-1... node sops-decrypt.mjs FILE
// The key comes from the environment so it never shows in a process list.
import { readFile } from "node:fs/promises";
import { decryptSops } from "sops-age";

const [file] = process.argv.slice(2);
const secretKey = process.env.SOPS_AGE_KEY;
if (!file || !secretKey) {
  console.error("usage: SOPS_AGE_KEY=... node sops-decrypt.mjs FILE");
  process.exit(2);
}
const text = await readFile(file, "utf8");
const manifest = await decryptSops(text, { secretKey, fileType: "yaml" });
process.stdout.write(JSON.stringify(manifest));
