// Every domain metric name in one place: the alert rules, the dashboard and the tests that check them
// against a live scrape all read this list.
export const METRIC = {
  // object state (scrape-time, from the informer caches)
  agentCondition: 'confidential_agent_agent_condition',
  agentAttestationStatus: 'confidential_agent_agent_attestation_status',
  agentNextAttestation: 'confidential_agent_agent_next_attestation_timestamp_seconds',
  agentTimeToReady: 'confidential_agent_agent_time_to_ready_seconds',
  instances: 'confidential_agent_instances',
  policyCondition: 'confidential_agent_policy_condition',
  policyCheckpointTreeSize: 'confidential_agent_policy_checkpoint_tree_size',
  policyLastResolved: 'confidential_agent_policy_last_resolved_timestamp_seconds',
  credentialCondition: 'confidential_agent_sealed_credential_condition',
  // attestation
  attestations: 'confidential_agent_attestations_total',
  attestationFailures: 'confidential_agent_attestation_failures_total',
  verificationDuration: 'confidential_agent_verification_duration_seconds',
  // release
  releases: 'confidential_agent_credential_releases_total',
  kbsRequests: 'confidential_agent_kbs_requests_total',
  kbsSessions: 'confidential_agent_kbs_sessions',
  // attestation service (what TNG gateways are told)
  asTokens: 'confidential_agent_attestation_service_tokens_total',
  asRefusals: 'confidential_agent_attestation_service_refusals_total',
  asChallenges: 'confidential_agent_attestation_service_challenges_total',
  // trust material
  collateralNextUpdate: 'confidential_agent_tdx_collateral_next_update_timestamp_seconds',
  pccsLastSuccess: 'confidential_agent_pccs_last_success_timestamp_seconds',
  collateralServingStale: 'confidential_agent_tdx_collateral_serving_stale',
  rimCertExpiry: 'confidential_agent_nvidia_rim_cert_expiration_timestamp_seconds',
  logConsistencyCheck: 'confidential_agent_transparency_log_last_consistency_check_timestamp_seconds',
  logInconsistent: 'confidential_agent_transparency_log_inconsistent',
  sealingKeyCreated: 'confidential_agent_sealing_key_created_timestamp_seconds',
  sealingKeys: 'confidential_agent_sealing_keys',
  earKeyCreated: 'confidential_agent_ear_signing_key_created_timestamp_seconds',
  // cloud API
  cloudRequests: 'confidential_agent_cloud_api_requests_total',
  cloudThrottles: 'confidential_agent_cloud_api_throttled_total',
  cloudRateLimitWait: 'confidential_agent_cloud_api_rate_limit_wait_seconds',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];
