import type { Clock, Logger } from '@palisade/shared';
import type { Registry } from 'prom-client';
import type { LeafInfo } from '../pki/index.js';
import type { AclRule, PublishKind } from './acl.js';
import type { ClientTrust } from './client-certificates.js';
import type { BrokerLimits } from './limits.js';

/** The broker's public contract: options, hooks and what it reports. */

export type Transport = 'mqtt' | 'mqtts' | 'ws';

export interface ListenerOptions {
  host?: string;
  /** 0 picks an ephemeral port; see {@link Broker.ports}. */
  port: number;
}

export interface TlsListenerOptions extends ListenerOptions {
  /** The gateway's server key and certificate chain (PEM). */
  key: string;
  cert: string;
  /** CA names advertised in the CertificateRequest; defaults to the device roots. Trust is decided by `roots`. */
  ca?: string | string[];
}

export interface DeviceCredential {
  deviceId: string;
  /** A `hashPassword` result; clear passwords are never stored. */
  passwordHash: string;
  groups?: readonly string[];
}

export interface DeviceConnectionInfo {
  deviceId: string;
  clientId: string;
  address: string;
  transport: Transport;
  authMethod: 'certificate' | 'password' | 'anonymous';
  certificate?: LeafInfo;
  /** The client certificate chain as presented (DER, leaf first), for appraisals that re-validate it. */
  certificateChain?: Uint8Array[];
}

export interface BrokerMessage {
  deviceId: string;
  topic: string;
  kind: PublishKind;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface AuthFailure {
  address: string;
  clientId: string;
  transport: Transport;
  /** `auth.*` or a `pki.*` reason of the client certificate. */
  reason: string;
}

export interface IdentityConflict {
  deviceId: string;
  existing: { clientId: string; address: string; transport: Transport };
  incoming: { clientId: string; address: string; transport: Transport };
}

export interface AccessDenied {
  deviceId: string;
  action: 'publish' | 'subscribe';
  topic: string;
  reason: string;
}

/** What the publish gate decides: accept, refuse and disconnect, or acknowledge and discard. */
export type PublishGateDecision = boolean | string | { discard: string };

export interface BrokerHooks {
  onDeviceConnected?(info: DeviceConnectionInfo): void;
  onDeviceDisconnected?(info: DeviceConnectionInfo): void;
  onAuthFailure?(failure: AuthFailure): void;
  /** An authorised device publish, delivered synchronously before the broker acknowledges it. */
  onMessage?(message: BrokerMessage): void;
  /**
   * Synchronous gate after the ACL (quarantine, [FP-7.4-1]): `true` lets the publish through; `false` or a reason
   * string refuses it and closes the connection; `{ discard: reason }` acknowledges it at the MQTT level but hands
   * nothing on (a quarantined device keeps its connection, so it can still attest, without a reconnect storm).
   */
  isPublishAllowed?(deviceId: string, kind: PublishKind): PublishGateDecision;
  /**
   * Admission of an authenticated identity (registry: unknown, pending or revoked devices). `true` admits; `false`
   * or a reason string refuses with CONNACK 5 (not authorised) and an auth failure carrying the reason.
   */
  authorizeDevice?(info: DeviceConnectionInfo): boolean | string | Promise<boolean | string>;
  /** A second connection claimed an identity that is already connected (clone suspicion); it was refused. */
  onIdentityConflict?(conflict: IdentityConflict): void;
  onAccessDenied?(denied: AccessDenied): void;
}

export interface BrokerOptions {
  listeners: { mqtt?: ListenerOptions; mqtts?: TlsListenerOptions; ws?: ListenerOptions & { path?: string } };
  /** Manufacturer root certificates (PEM) that device certificates must chain to. */
  roots?: string[];
  /** Intermediate CA bundle used for path building (devices may also send theirs). */
  intermediates?: string[];
  crls?: string[];
  /** Extended key usages a device certificate must carry (e.g. clientAuth); none required by default. */
  clientCertificateEku?: string[];
  /** Per-device password lookup by MQTT username. */
  credentials?: (username: string) => DeviceCredential | undefined | Promise<DeviceCredential | undefined>;
  /** Groups of a device for ACL rules (certificate and anonymous devices; credentials may carry their own). */
  deviceGroups?: (deviceId: string) => readonly string[];
  /** Lab only: accept connections without certificate or password (client id taken as device id). */
  allowAnonymous?: boolean;
  limits?: Partial<BrokerLimits>;
  acl?: AclRule[];
  hooks?: BrokerHooks;
  logger?: Logger;
  metrics?: Registry;
  clock?: Clock;
}

export interface Broker {
  readonly ports: { mqtt?: number; mqtts?: number; ws?: number };
  publish(topic: string, payload: Uint8Array | string, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void>;
  /** Closes a device's connection; returns false when it is not connected. */
  disconnect(deviceId: string): boolean;
  connectedDevices(): DeviceConnectionInfo[];
  /**
   * Replaces roots, intermediates and CRLs (e.g. a revocation update). Devices connected with a client certificate
   * are re-validated under the new material and disconnected when their certificate no longer validates.
   */
  updateTrust(trust: ClientTrust): void;
  close(): Promise<void>;
}
