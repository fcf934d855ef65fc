/**
 * Pins every third-party image of the repository to the digest its tag names
 * today: the Dockerfile's base image (`FROM`), the overlays' and components'
 * kustomize `images:` entries that are not our own images, and the PostgreSQL
 * image of CloudNativePG Clusters (`imageName`). The tag stays for readers;
 * the digest is what the cluster pulls. Digests are read from the registries
 * with `docker buildx imagetools inspect`, never typed: run by
 * .github/workflows/pin-images.yml, which opens a pull request with the result.
 *
 *   npx tsx .github/scripts/pin-images.ts [repository root]
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { isMap, isSeq, parseAllDocuments, parseDocument, type Document } from 'yaml';

/** Our own images: release.yml pins them by digest from the build's output. */
export const OWN_IMAGES = 'ghcr.io/cryptoagg/';
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface PinSite {
  /** repository-relative path of the file that names the image */
  file: string;
  kind: 'dockerfile' | 'kustomize' | 'cnpg';
  /** `repository:tag`, what the digest is read for */
  reference: string;
  /** the digest written now, if any */
  digest?: string;
}

/** Reads the digest a reference names now; throws when the registry's answer holds none. */
export type Resolve = (reference: string) => Promise<string>;

const execFileAsync = promisify(execFile);

/** The digest of a reference's manifest (the multi-platform index for multi-arch images) from its registry. */
export const resolveWithDocker: Resolve = async (reference) => {
  const { stdout } = await execFileAsync('docker', ['buildx', 'imagetools', 'inspect', reference, '--format', '{{json .Manifest}}'], { timeout: 120_000 });
  let digest: unknown;
  try {
    digest = (JSON.parse(stdout) as { digest?: unknown }).digest;
  } catch {
    throw new Error(`${reference}: the registry's answer is not JSON: ${stdout.slice(0, 200)}`);
  }
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new Error(`${reference}: no sha256 digest in the registry's answer`);
  return digest;
};

/** `name:tag@digest` -> its parts (the tag is after the last colon that follows the last slash). */
export function splitReference(image: string): { name: string; tag?: string; digest?: string } {
  const [reference = '', digest] = image.split('@');
  const colon = reference.indexOf(':', reference.lastIndexOf('/') + 1);
  return {
    name: colon === -1 ? reference : reference.slice(0, colon),
    ...(colon === -1 ? {} : { tag: reference.slice(colon + 1) }),
    ...(digest === undefined ? {} : { digest }),
  };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return entry.name.endsWith('.yaml') ? [full] : [];
  });
}

const FROM = /^(FROM\s+(?:--\S+\s+)*)(\S+)(.*)$/i;

/** The Dockerfile's `FROM` images (not the stages it builds on), line by line. */
function dockerfileSites(root: string): PinSite[] {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const stages = new Set<string>();
  const sites: PinSite[] = [];
  for (const line of text.split('\n')) {
    const match = FROM.exec(line.trim());
    if (match === null) continue;
    const image = match[2] ?? '';
    const stage = /\s+AS\s+(\S+)/i.exec(match[3] ?? '')?.[1];
    if (!stages.has(image)) {
      const { name, tag, digest } = splitReference(image);
      if (tag === undefined) throw new Error(`Dockerfile: FROM ${image} has no tag to pin`);
      sites.push({ file: 'Dockerfile', kind: 'dockerfile', reference: `${name}:${tag}`, ...(digest === undefined ? {} : { digest }) });
    }
    if (stage !== undefined) stages.add(stage);
  }
  return sites;
}

interface KustomizeImage {
  name?: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

/** Third-party `images:` entries of every kustomization and component under gitops/. */
function kustomizeSites(root: string): PinSite[] {
  return yamlFiles(path.join(root, 'gitops'))
    .filter((file) => path.basename(file) === 'kustomization.yaml')
    .sort()
    .flatMap((file) => {
      const images = (parseDocument(readFileSync(file, 'utf8')).toJS() as { images?: KustomizeImage[] } | null)?.images ?? [];
      return images
        .filter((i) => i.name !== undefined && !(i.newName ?? i.name).startsWith(OWN_IMAGES) && i.newTag !== undefined)
        .map((i) => ({
          file: path.relative(root, file),
          kind: 'kustomize' as const,
          reference: `${i.newName ?? i.name ?? ''}:${i.newTag ?? ''}`,
          ...(i.digest === undefined ? {} : { digest: i.digest }),
        }));
    });
}

const isCluster = (doc: Document) => {
  const value = doc.toJS() as { apiVersion?: unknown; kind?: unknown } | null;
  return typeof value?.apiVersion === 'string' && value.apiVersion.startsWith('postgresql.cnpg.io/') && value.kind === 'Cluster';
};

/** `spec.imageName` of every CloudNativePG Cluster manifest under gitops/ (the CRD schema copies excepted). */
function cnpgSites(root: string): PinSite[] {
  return yamlFiles(path.join(root, 'gitops'))
    .filter((file) => !file.includes(`${path.sep}crds-schemas${path.sep}`))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
        if (!('toJS' in doc) || !isCluster(doc)) return [];
        const image = doc.getIn(['spec', 'imageName']);
        if (typeof image !== 'string')
          throw new Error(`${path.relative(root, file)}: a Cluster without spec.imageName (the operator's default moves with the operator)`);
        const { name, tag, digest } = splitReference(image);
        if (tag === undefined) throw new Error(`${path.relative(root, file)}: imageName ${image} has no tag to pin`);
        return [{ file: path.relative(root, file), kind: 'cnpg' as const, reference: `${name}:${tag}`, ...(digest === undefined ? {} : { digest }) }];
      }),
    );
}

/** Every place a third-party image is named. */
export function pinSites(root: string): PinSite[] {
  return [...dockerfileSites(root), ...kustomizeSites(root), ...cnpgSites(root)];
}

function writeDockerfile(root: string, digests: Map<string, string>): void {
  const file = path.join(root, 'Dockerfile');
  const lines = readFileSync(file, 'utf8').split('\n');
  const rewritten = lines.map((line) => {
    const match = FROM.exec(line);
    if (match === null) return line;
    const { name, tag } = splitReference(match[2] ?? '');
    const digest = tag === undefined ? undefined : digests.get(`${name}:${tag}`);
    return digest === undefined ? line : `${match[1] ?? ''}${name}:${tag}@${digest}${match[3] ?? ''}`;
  });
  writeFileSync(file, rewritten.join('\n'));
}

function writeKustomization(file: string, digests: Map<string, string>): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const images = doc.get('images');
  if (!isSeq(images)) return;
  for (const item of images.items) {
    if (!isMap(item)) continue;
    const name = item.get('newName') ?? item.get('name');
    const digest = digests.get(`${String(name)}:${String(item.get('newTag'))}`);
    if (digest !== undefined) item.set('digest', digest);
  }
  writeFileSync(file, doc.toString());
}

function writeCluster(file: string, digests: Map<string, string>): void {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const doc of docs) {
    if (!('toJS' in doc) || !isCluster(doc)) continue;
    const { name, tag } = splitReference(String(doc.getIn(['spec', 'imageName'])));
    const digest = digests.get(`${name}:${tag ?? ''}`);
    if (digest !== undefined) doc.setIn(['spec', 'imageName'], `${name}:${tag ?? ''}@${digest}`);
  }
  writeFileSync(file, docs.map((doc) => doc.toString()).join(''));
}

/** Resolves every site's reference once and writes the digests; returns the sites whose digest changed. */
export async function pinAll(root: string, resolve: Resolve): Promise<(PinSite & { pinned: string })[]> {
  const sites = pinSites(root);
  const digests = new Map<string, string>();
  for (const reference of new Set(sites.map((s) => s.reference))) {
    const digest = await resolve(reference);
    if (!DIGEST.test(digest)) throw new Error(`${reference}: ${digest} is not a sha256 digest`);
    digests.set(reference, digest);
  }
  const changed = sites.filter((s) => s.digest !== digests.get(s.reference)).map((s) => ({ ...s, pinned: digests.get(s.reference) ?? '' }));
  for (const file of new Set(changed.map((s) => s.file))) {
    const kind = changed.find((s) => s.file === file)?.kind;
    if (kind === 'dockerfile') writeDockerfile(root, digests);
    else if (kind === 'kustomize') writeKustomization(path.join(root, file), digests);
    else writeCluster(path.join(root, file), digests);
  }
  return changed;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const root = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../..'));
  const changed = await pinAll(root, resolveWithDocker);
  for (const site of changed) process.stdout.write(`${site.file}: ${site.reference}@${site.pinned}\n`);
  process.stdout.write(changed.length === 0 ? 'every third-party image is pinned to its current digest\n' : `${changed.length} image references pinned\n`);
}
