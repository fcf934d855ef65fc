/**
 * A small evaluator of Kubernetes NetworkPolicy semantics, enough to decide
 * whether one connection (source, destination, port) is allowed by the
 * policies of a render: a pod selected by a policy of a given type is
 * isolated in that direction, and then only what some selecting policy's rule
 * allows gets through; both the source's egress and the destination's ingress
 * must allow a connection.
 */
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import { type KObject, type Labels, type PortModel, namespaceOf, selectorMatches } from './k8s.js';

/** A pod (ours or another namespace's) or an address outside the cluster. */
export type Endpoint = { kind: 'pod'; name: string; namespace: string; labels: Labels; ports: PortModel[] } | { kind: 'external'; name: string; ip: string };

export interface Policy {
  name: string;
  namespace: string;
  spec: NonNullable<INetworkPolicy['spec']>;
}

export function networkPolicies(objects: KObject[]): Policy[] {
  return objects
    .filter((o) => o.kind === 'NetworkPolicy')
    .map((o) => ({ name: o.metadata.name, namespace: namespaceOf(o), spec: (o as unknown as INetworkPolicy).spec ?? {} }));
}

export function policyTypes(policy: Policy): string[] {
  if (policy.spec.policyTypes !== undefined) return policy.spec.policyTypes;
  return policy.spec.egress === undefined ? ['Ingress'] : ['Ingress', 'Egress'];
}

function selects(policy: Policy, endpoint: Endpoint): boolean {
  return endpoint.kind === 'pod' && endpoint.namespace === policy.namespace && selectorMatches(policy.spec.podSelector, endpoint.labels);
}

function ipv4(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  if (base.includes(':')) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base) / size);
}

function peerMatches(peer: INetworkPolicyPeer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock !== undefined) {
    // ipBlock is meant for addresses outside the cluster; pod addresses are not modelled.
    return endpoint.kind === 'external' && inCidr(endpoint.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(endpoint.ip, c));
  }
  if (endpoint.kind !== 'pod') return false;
  if (peer.namespaceSelector === undefined) {
    return endpoint.namespace === policyNamespace && selectorMatches(peer.podSelector, endpoint.labels);
  }
  const namespaceLabels = { 'kubernetes.io/metadata.name': endpoint.namespace };
  return selectorMatches(peer.namespaceSelector, namespaceLabels) && selectorMatches(peer.podSelector, endpoint.labels);
}

/** Whether a policy port entry covers (port, protocol) on the destination (named ports resolve on the destination pod). */
function portMatches(entry: INetworkPolicyPort, port: number, protocol: string, destination: Endpoint): boolean {
  if ((entry.protocol ?? 'TCP') !== protocol) return false;
  if (entry.port === undefined) return true;
  if (typeof entry.port === 'number') return entry.endPort === undefined ? entry.port === port : port >= entry.port && port <= entry.endPort;
  if (destination.kind !== 'pod') return false;
  return destination.ports.some((p) => p.name === entry.port && p.port === port && p.protocol === protocol);
}

function rulesAllow(
  rules: { peers?: INetworkPolicyPeer[]; ports?: INetworkPolicyPort[] }[],
  policyNamespace: string,
  peer: Endpoint,
  port: number,
  protocol: string,
  destination: Endpoint,
): boolean {
  return rules.some(
    (rule) =>
      (rule.peers === undefined || rule.peers.length === 0 || rule.peers.some((p) => peerMatches(p, policyNamespace, peer))) &&
      (rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((p) => portMatches(p, port, protocol, destination))),
  );
}

export interface Verdict {
  allowed: boolean;
  /** Why not: the side that blocks it. */
  blockedBy?: 'egress' | 'ingress';
}

/** Whether `from` may open a connection to `to` on port/protocol under the given policies. */
export function connectionAllowed(policies: Policy[], from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): Verdict {
  const egress = policies.filter((p) => selects(p, from) && policyTypes(p).includes('Egress'));
  if (
    egress.length > 0 &&
    !egress.some((p) =>
      rulesAllow(
        (p.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports })),
        p.namespace,
        to,
        port,
        protocol,
        to,
      ),
    )
  ) {
    return { allowed: false, blockedBy: 'egress' };
  }
  const ingress = policies.filter((p) => selects(p, to) && policyTypes(p).includes('Ingress'));
  if (
    ingress.length > 0 &&
    !ingress.some((p) =>
      rulesAllow(
        (p.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })),
        p.namespace,
        from,
        port,
        protocol,
        to,
      ),
    )
  ) {
    return { allowed: false, blockedBy: 'ingress' };
  }
  return { allowed: true };
}
