/**
 * Image references: every third-party image the clusters run or the images are
 * built from is one that .github/scripts/pin-images.ts pins by digest, and the
 * script really pins them all. No registry is reachable here: a fake `docker`
 * answers `docker buildx imagetools inspect` with a digest derived from the
 * reference, so the script runs end to end, digests included.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireTool } from '@cryptoagg/testkit/tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWN_IMAGES, pinAll, pinSites, resolveWithDocker, splitReference } from '../../.github/scripts/pin-images.js';
import { type KObject, containers, get, parseObjects, renderOverlay } from '../gitops/k8s.js';
import { images as imagesPolicy } from '../gitops/policies.js';
import { repoRoot } from './workflow.js';

const fakeDigest = (reference: string, salt = '') => `sha256:${createHash('sha256').update(`${salt}${reference}`).digest('hex')}`;

/** Third-party images of a render: containers and CloudNativePG's imageName. */
function thirdPartyImages(objects: KObject[]): string[] {
  const fromContainers = containers(objects).map(({ container }) => container.image ?? '');
  const fromClusters = objects.filter((o) => o.kind === 'Cluster').map((o) => String(get(o, 'spec', 'imageName')));
  return [...new Set([...fromContainers, ...fromClusters])].filter((image) => !image.startsWith(OWN_IMAGES)).sort();
}

const dockerfileFroms = (text: string) => [...text.matchAll(/^FROM\s+(\S+)/gim)].map((m) => m[1] ?? '').filter((image) => image.includes(':'));

/** the renders come from `kubectl kustomize`: without kubectl the tests that read them are skipped outside CI */
const hasKubectl = requireTool('kubectl');
let scratch: string;
let originalPath: string | undefined;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'cryptoagg-pin-images-'));
  originalPath = process.env.PATH;
  // The fake registry: `docker buildx imagetools inspect <ref> --format ...` answers the manifest descriptor as JSON.
  const bin = path.join(scratch, 'bin');
  cpSync(path.join(repoRoot, 'gitops'), path.join(scratch, 'repo/gitops'), { recursive: true });
  cpSync(path.join(repoRoot, 'Dockerfile'), path.join(scratch, 'repo/Dockerfile'));
  mkdirSync(bin);
  writeFileSync(
    path.join(bin, 'docker'),
    [
      '#!/bin/sh',
      '# docker buildx imagetools inspect REF --format {{json .Manifest}}',
      '[ "$1 $2 $3" = "buildx imagetools inspect" ] || exit 2',
      'if [ -n "$FAKE_REGISTRY_BROKEN" ]; then echo "{}"; exit 0; fi',
      'digest=$(printf "%s%s" "$FAKE_REGISTRY_SALT" "$4" | sha256sum | cut -d " " -f 1)',
      'printf \'{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":1234}\\n\' "$digest"',
    ].join('\n'),
  );
  chmodSync(path.join(bin, 'docker'), 0o755);
  process.env.PATH = `${bin}:${originalPath ?? ''}`;
});
afterAll(() => {
  process.env.PATH = originalPath;
  delete process.env.FAKE_REGISTRY_SALT;
  rmSync(scratch, { recursive: true, force: true });
});

describe('third-party image references', () => {
  it('the pin script finds every place a third-party image is named', () => {
    expect(pinSites(repoRoot).map((s) => `${s.file} ${s.reference}`)).toEqual([
      'Dockerfile node:24.21.0-slim',
      'gitops/components/monitoring/kustomization.yaml oliver006/redis_exporter:v1.78.0',
      'gitops/overlays/dev/kustomization.yaml redis:7.4-alpine',
      'gitops/overlays/dev/kustomization.yaml postgres:17.6',
      'gitops/overlays/prod/kustomization.yaml redis:7.4-alpine',
      'gitops/overlays/prod/database/cluster.yaml ghcr.io/cloudnative-pg/postgresql:17.6',
    ]);
  });

  it.skipIf(!hasKubectl)('every third-party image of the renders and of the Dockerfile is one the script pins', () => {
    const pinned = new Set(pinSites(repoRoot).map((s) => s.reference));
    const named = [
      ...thirdPartyImages([...renderOverlay('dev'), ...renderOverlay('prod')]),
      ...dockerfileFroms(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')),
    ];
    expect(named.length).toBe(5);
    const reference = (image: string) => {
      const { name, tag } = splitReference(image);
      return `${name}:${tag ?? 'latest'}`;
    };
    expect(named.filter((image) => !pinned.has(reference(image)))).toEqual([]);
  });

  it.skipIf(!hasKubectl)('pins them all: after a run every third-party image of both renders and the Dockerfile carries the digest its tag names', async () => {
    const root = path.join(scratch, 'repo');
    const changed = await pinAll(root, resolveWithDocker);
    expect(changed.map((s) => s.reference)).toEqual([
      'node:24.21.0-slim',
      'oliver006/redis_exporter:v1.78.0',
      'redis:7.4-alpine',
      'postgres:17.6',
      'redis:7.4-alpine',
      'ghcr.io/cloudnative-pg/postgresql:17.6',
    ]);
    const render = (env: string) => parseObjects(execFileSync('kubectl', ['kustomize', path.join(root, 'gitops/overlays', env)], { encoding: 'utf8' }), env);
    const objects = [...render('dev'), ...render('prod')];
    const images = [...thirdPartyImages(objects), ...dockerfileFroms(readFileSync(path.join(root, 'Dockerfile'), 'utf8'))];
    expect(images.length).toBe(5);
    for (const image of images) {
      const { name, tag, digest } = splitReference(image);
      expect(digest, image).toBe(fakeDigest(`${name}:${tag ?? ''}`));
    }
    expect(imagesPolicy(objects)).toEqual([]);
    // Comments and everything else stay as they were: only digests are added.
    const before = readFileSync(path.join(repoRoot, 'gitops/overlays/prod/kustomization.yaml'), 'utf8').split('\n');
    const after = readFileSync(path.join(root, 'gitops/overlays/prod/kustomization.yaml'), 'utf8').split('\n');
    expect(after.filter((line) => !before.includes(line))).toEqual([`    digest: ${fakeDigest('redis:7.4-alpine')}`]);
    // Nothing moved upstream: a second run changes nothing.
    expect(await pinAll(root, resolveWithDocker)).toEqual([]);
    // A tag that moved upstream (a rebuilt base image) gets its new digest.
    process.env.FAKE_REGISTRY_SALT = 'rebuilt-';
    const moved = await pinAll(root, resolveWithDocker);
    delete process.env.FAKE_REGISTRY_SALT;
    expect(moved.map((s) => `${s.reference}@${s.pinned}`)).toContain(`node:24.21.0-slim@${fakeDigest('node:24.21.0-slim', 'rebuilt-')}`);
    expect(readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toContain(`FROM node:24.21.0-slim@${fakeDigest('node:24.21.0-slim', 'rebuilt-')} AS base`);
  });

  it('refuses a registry answer without a sha256 digest instead of writing it', async () => {
    process.env.FAKE_REGISTRY_BROKEN = '1';
    try {
      await expect(resolveWithDocker('redis:7.4-alpine')).rejects.toThrow("redis:7.4-alpine: no sha256 digest in the registry's answer");
    } finally {
      delete process.env.FAKE_REGISTRY_BROKEN;
    }
  });

  it('the images policy rejects a digest that is not a sha256 one (typed by hand)', () => {
    const typed = parseObjects(
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: redis\n      image: redis:7.4-alpine@sha256:0000\n',
      'typed digest',
    );
    expect(imagesPolicy(typed)).toEqual(['Pod/p container redis: image redis:7.4-alpine@sha256:0000: sha256:0000 is not a sha256 digest']);
  });
});
