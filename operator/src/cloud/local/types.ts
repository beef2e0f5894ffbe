// Wire types of the local cloud API (a tiny stand-in for a cloud control plane, served on loopback).
import type { InstanceOwner, InstanceState } from '../provider.ts';

export interface LocalInstanceRecord {
  id: string;
  token: string;
  owner: InstanceOwner;
  labels: Record<string, string>;
  state: InstanceState;
  address: string;
  /** guest port -> host port (8006 trustiflux API, workload port) once Running */
  ports: Record<number, number>;
  createdAt: string;
  /** When the guest last booted (set on every boot: a reboot of the same instance changes it). */
  startedAt?: string;
  bootDelaySeconds: number;
  /** KBS `Tee` of the guest's evidence once Running (the simulated "hardware": sample unless a test plugs in another). */
  tee?: string;
}

export interface CreateLocalInstanceBody {
  token: string;
  owner: InstanceOwner;
  labels: Record<string, string>;
  bootDelaySeconds: number;
  /** Workload the simulated guest serves (model name, gateway port). */
  workload: { model: string; port: number };
  /** Port the guest's trustiflux API is reached at (agent spec.delivery.guestApiPort). */
  guestApiPort: number;
  /** Resource paths the guest "image" fetches from a KBS when told to (KBS delivery mode). */
  manifest: string[];
  /** CoCo init-data TOML the guest launches with (its digest is what the guest's evidence binds). */
  initData?: string;
}

/** Largest init-data the local cloud accepts (the KBS's init-data limit). */
export const MAX_LOCAL_INIT_DATA = 64 * 1024;

export interface LocalCloudError {
  code: string;
  message: string;
}
