"""Acting mocks: run a Pulumi program under the SDK's mock runtime and *perform* every resource it
declares, with exactly the inputs it declared, on a real Docker engine and a real shell.

Modules: `monitor` (`deploy`, the monitor glue), `engine` (`ActingMocks`: the state between runs,
create/keep/update/replace/delete), `executor` (`Request`, `Recorded`, `Context`, the `Executor`
interface), `replacement` (what the real providers replace), `inputs` (honoured fields), and the
executors per provider: `docker_resources`, `commands`, `tls`, `random_password`.

`deploy(config, mocks)` runs __main__.py (or a given function) like `program_runner.run_program`;
the difference is `ActingMocks`: for each registered custom resource it looks up the executor of
the resource's type and lets it create the thing for real (docker networks, volumes and containers
through the Docker SDK, commands through a shell, random values and TLS keys through `secrets` and
`cryptography`). Any type without an executor, and any input field an executor does not honour,
fails the run loudly (`UnhonouredInput`), so a test can never pass because an input was silently
dropped.

Deliberate, named substitutions (nothing else is faked):
- Images: `docker:index/remoteImage:RemoteImage` never pulls (there is no registry). The test
  declares `image_map = {<pinned reference in the program>: <locally imported stand-in image>}`;
  an unmapped reference fails the run.
- LUKS: `LuksDataDirStandIn` executes the LUKS commands of EncryptedVolume (`ep-luks-ensure-*`,
  `ep-luks-reencrypt-*`, `ep-luks-delete-*`): it only creates the data directory the docker.Volume
  binds (EP_DATA_DIR, owner EP_DATA_OWNER, mode EP_DATA_MODE, read from the program's parameter
  block). No cryptsetup runs: this machine has no device-mapper. LUKS itself is tested for real in
  the host and vm tiers. For the same reason `SecretFileOnPlainDisk` runs SecretFile programs with
  their "is this directory on the LUKS mapping" check reduced to "does it exist"; everything else
  in them (stdin only, owner, mode, atomic rename) runs as written.
- Host commands run in the Docker host's network namespace with the host's boot-persistence paths
  (/usr/local/sbin, /run/systemd) masked by empty tmpfs mounts (`Context.command_prefix`), so a
  test never installs boot-time programs on the machine that runs it.

State: an `ActingMocks` keeps, per URN, the inputs, id and outputs of the previous run. Running the
program again with the same instance compares inputs: unchanged resources are kept, changed ones
are updated or replaced as the real provider would (PROVIDER_REPLACEMENT, read from the providers'
sources; each executor's `replace_on`), and
resources no longer declared are deleted (reverse order) by `finish()`. A later issue can plug in
executors that act on a remote host over SSH: an executor only needs `create`, `update` and
`delete`.

Honoured input fields (everything else raises UnhonouredInput):
  pulumi:providers:docker            host
  docker:index/network:Network       name, driver, internal, attachable, options, labels[label,value]
  docker:index/volume:Volume         name, driver, driverOpts, labels[label,value]
  docker:index/remoteImage:RemoteImage  name (through image_map), keepLocally (must be true)
  docker:index/container:Container   name, image, user, command, entrypoints, envs, labels,
      hostname, workingDir, networksAdvanced[name, aliases], mounts[type (volume|tmpfs|bind),
      source, target, readOnly, tmpfsOptions[sizeBytes, mode]], tmpfs, readOnly, privileged, ipcMode,
      networkMode, capabilities[adds, drops], securityOpts, memory, memorySwap, cpus, healthcheck
      [tests, interval, timeout, retries, startPeriod], restart, maxRetryCount, logDriver,
      logOpts, ports[internal, external, ip, protocol], uploads[file, content, contentBase64,
      executable], mustRun, start, init, stopSignal, stopTimeout, destroyGraceSeconds,
      removeVolumes
      Order as in the provider (kreuzwerker/docker resourceDockerContainerCreate): create (on
      networkMode, else the engine's default bridge), disconnect 'bridge', connect each
      networksAdvanced entry, copy uploads to '/', start, then fail if it is not running.
  command:local:Command              create, update, delete, stdin, triggers, interpreter,
      addPreviousOutputInEnv (must be false). Run inside the Docker host's network namespace.
  random:index/randomPassword:RandomPassword  length, special, upper, lower, numeric, number,
      minUpper, minLower, minNumeric, minSpecial, overrideSpecial
  tls:index/privateKey:PrivateKey    algorithm (RSA|ECDSA|ED25519), rsaBits, ecdsaCurve
  tls:index/selfSignedCert:SelfSignedCert  privateKeyPem, subject[commonName, organization,
      organizationalUnit, country, locality, province], validityPeriodHours, earlyRenewalHours,
      allowedUses, isCaCertificate, dnsNames, ipAddresses
  tls:index/certRequest:CertRequest  privateKeyPem, subject[...as above], dnsNames, ipAddresses
  tls:index/locallySignedCert:LocallySignedCert  certRequestPem, caPrivateKeyPem, caCertPem,
      validityPeriodHours, earlyRenewalHours, allowedUses, isCaCertificate
  docker:index/secret:Secret         data (base64), labels, name (else auto-named)
  docker:index/service:Service       name, labels, mode.replicated.replicas, endpointSpec.mode,
      taskSpec: containerSpec[image (through image_map), args, env, labels, user, readOnly,
      capDrops, capAdds, mounts[type, source, target, readOnly, volumeOptions[driverName,
      driverOptions], tmpfsOptions[sizeBytes, mode]], secrets[secretId, secretName, fileName,
      fileUid, fileGid, fileMode], healthcheck[...]], resources.limits[memoryBytes, nanoCpus],
      restartPolicy.condition, placement.constraints, networksAdvanceds[id, aliases],
      logDriver[name, options]
"""
