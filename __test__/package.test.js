'use strict'
// What can be checked here of the packages for platforms this machine cannot build for: napi's
// per-platform packages against package.json, the release workflow against GitHub's schema and
// against the targets, the loader's choice on each platform (index.js → napi's binding.js, run
// with process.platform, process.arch and process.report replaced), and prepack, which never lets
// `npm pack` make a tarball without an addon.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const YAML = require('yaml')
const { validateWorkflow } = require('@action-validator/core')
const { ROOT, tempDir } = require('./support/site')

const manifest = require('../package.json')
/** napi's own reading of each target (its CLI is ES modules inside, so it runs in Node, not in Jest). */
const targets = JSON.parse(
  spawnSync(
    process.execPath,
    [
      '-e',
      'console.log(JSON.stringify(require("@napi-rs/cli").parseTriple ? process.argv.slice(1).map(require("@napi-rs/cli").parseTriple) : null))',
      ...manifest.napi.targets,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  ).stdout,
)
const PROBE = path.join(__dirname, 'support', 'loader-probe.js')

const NAPI_OS = { linux: 'linux', darwin: 'darwin', win32: 'win32' }
const NAPI_LIBC = { gnu: 'glibc', musl: 'musl' }

test("package.json targets the seven platforms, and lists each one's npm package as an optional dependency of the same version", () => {
  expect(targets.map((t) => t.platformArchABI).sort()).toEqual(
    [
      'darwin-arm64',
      'darwin-x64',
      'linux-arm64-gnu',
      'linux-arm64-musl',
      'linux-x64-gnu',
      'linux-x64-musl',
      'win32-x64-msvc',
    ].sort(),
  )
  const expected = Object.fromEntries(targets.map((t) => [`gatsby-dsg-${t.platformArchABI}`, manifest.version]))
  expect(manifest.optionalDependencies).toEqual(expected)
})

test("each npm/<platform>/package.json names its addon, and restricts os, cpu and libc to what napi's target means", () => {
  const dirs = fs.readdirSync(path.join(ROOT, 'npm')).sort()
  expect(dirs).toEqual(targets.map((t) => t.platformArchABI).sort())
  for (const t of targets) {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', t.platformArchABI, 'package.json'), 'utf8'))
    const binary = `gatsby-dsg.${t.platformArchABI}.node`
    expect({
      dir: t.platformArchABI,
      name: pkg.name,
      version: pkg.version,
      main: pkg.main,
      files: pkg.files,
      os: pkg.os,
      cpu: pkg.cpu,
      libc: pkg.libc,
      license: pkg.license,
    }).toEqual({
      dir: t.platformArchABI,
      name: `gatsby-dsg-${t.platformArchABI}`,
      version: manifest.version,
      main: binary,
      files: [binary],
      os: [NAPI_OS[t.platform]],
      cpu: [t.arch],
      libc: t.abi in NAPI_LIBC ? [NAPI_LIBC[t.abi]] : undefined,
      license: manifest.license,
    })
    expect(pkg.engines).toEqual(manifest.engines)
  }
})

test('the release workflow is valid for GitHub Actions, builds and tests every target, and publishes only after every test job', () => {
  const source = fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8')
  const parsed = YAML.parseDocument(source)
  expect(parsed.errors).toEqual([])
  // The validator warns on stderr that it does not check globs (paths-ignore); that is all it skips.
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => {})
  const validation = validateWorkflow(source)
  warn.mockRestore()
  expect(validation.errors).toEqual([])
  const { jobs } = parsed.toJS()

  const built = jobs.build.strategy.matrix.settings.map((s) => s.target)
  expect(built.sort()).toEqual([...manifest.napi.targets].sort())
  for (const settings of jobs.build.strategy.matrix.settings) {
    // Each build builds the target of its row, with the package's own build script.
    expect(settings.build).toMatch(new RegExp(`^npm run build -- --target ${settings.target}( |$)`))
  }
  expect(jobs.build.steps.find((s) => s.uses && s.uses.startsWith('actions/upload-artifact')).with.name).toBe(
    'bindings-${{ matrix.settings.target }}',
  )

  const tested = [
    ...jobs['test-macOS-windows-binding'].strategy.matrix.settings.map((s) => s.target),
    ...jobs['test-linux-binding'].strategy.matrix.target,
  ]
  expect(tested.sort()).toEqual([...manifest.napi.targets].sort())
  for (const name of ['test-macOS-windows-binding', 'test-linux-binding']) {
    expect(jobs[name].needs).toEqual(['build'])
    expect(
      jobs[name].steps
        .map((s) => s.run)
        .filter(Boolean)
        .join('\n'),
    ).toContain('node scripts/smoke-addon.js')
  }
  expect(fs.existsSync(path.join(ROOT, 'scripts', 'smoke-addon.js'))).toBe(true)

  const testJobs = Object.keys(jobs).filter((name) => name.startsWith('test-'))
  expect([...jobs.publish.needs].sort()).toEqual(testJobs.sort())
  const publishSteps = jobs.publish.steps.map((s) => s.run || '').join('\n')
  expect(publishSteps).toMatch(/napi create-npm-dirs/)
  expect(publishSteps).toMatch(/npm run artifacts/)
  expect(publishSteps).toMatch(/npm publish --access public/)
  expect(manifest.scripts.artifacts).toBe('napi artifacts')
  expect(manifest.scripts.prepublishOnly).toBe('napi prepublish -t npm')

  // Every action is pinned to a major version.
  const uses = Object.values(jobs).flatMap((job) => job.steps.map((s) => s.uses).filter(Boolean))
  expect(uses.filter((u) => !/@v\d+$|@stable$/.test(u))).toEqual([])
})

/** Runs the package's loader as if on `platform`; see support/loader-probe.js. */
function probe(options) {
  const result = spawnSync(
    process.execPath,
    [PROBE, JSON.stringify({ entry: path.join(ROOT, 'index.js'), ...options })],
    { encoding: 'utf8' },
  )
  expect(result.stderr).toBe('')
  return JSON.parse(result.stdout)
}

describe.each(targets.map((t) => [t.platformArchABI, t]))('on %s', (name, t) => {
  const platform = {
    platform: t.platform,
    arch: t.arch,
    libc: t.abi === 'musl' ? 'musl' : t.platform === 'linux' ? 'gnu' : undefined,
  }

  test('the loader takes the addon beside index.js first', () => {
    const result = probe({ ...platform, present: [`./gatsby-dsg.${name}.node`, `gatsby-dsg-${name}`] })
    expect(result.exports).toEqual({ loadedFrom: `./gatsby-dsg.${name}.node` })
  })

  test(`the loader takes the gatsby-dsg-${name} package when no addon is beside index.js`, () => {
    const result = probe({ ...platform, present: [`gatsby-dsg-${name}`] })
    expect(result.exports).toEqual({ loadedFrom: `gatsby-dsg-${name}` })
    expect(result.requested).toContain(`./gatsby-dsg.${name}.node`)
    // No other platform's addon is ever asked for (darwin tries the universal binary first, as napi does).
    expect(result.requested.filter((r) => !r.includes(name) && !r.includes('darwin-universal'))).toEqual([])
  })

  test('with neither, the error names the platform and its optional dependency, and how to build from source', () => {
    const result = probe(platform)
    expect(result.error.code).toBe('ERR_GATSBY_DSG_NO_ADDON')
    expect(result.error.platform).toBe(name)
    expect(result.error.message).toContain(`no native addon loads on ${name}`)
    expect(result.error.message).toContain(`optional dependency gatsby-dsg-${name}, which is not installed`)
    expect(result.error.message).toContain('`npm run build`')
    expect(result.error.message).toContain(`Cannot find module 'gatsby-dsg-${name}'`)
    expect(result.error.message).not.toMatch(/npm has a bug/)
  })
})

test.each([
  ['freebsd-x64', { platform: 'freebsd', arch: 'x64' }],
  ['linux-riscv64-gnu', { platform: 'linux', arch: 'riscv64', libc: 'gnu' }],
  ['linux-ppc64-gnu', { platform: 'linux', arch: 'ppc64', libc: 'gnu' }],
  ['win32-arm64-msvc', { platform: 'win32', arch: 'arm64' }],
  ['win32-ia32-msvc', { platform: 'win32', arch: 'ia32' }],
])(
  'on %s, which has no addon, the error names it, lists the supported platforms, and says how to build from source',
  (name, platform) => {
    const result = probe(platform)
    expect(result.error.code).toBe('ERR_GATSBY_DSG_NO_ADDON')
    expect(result.error.platform).toBe(name)
    const supported = targets.map((t) => t.platformArchABI).join(', ')
    expect(result.error.message).toContain(`no native addon loads on ${name}`)
    expect(result.error.message).toContain(`Addons are published for ${supported}; ${name} is not one of them.`)
    expect(result.error.message).toContain('https://rustup.rs')
    expect(result.error.message).toContain(`writes gatsby-dsg.${name}.node beside index.js`)
    expect(result.error.message).not.toMatch(/npm has a bug/)
  },
)

test('an addon that is present but cannot be loaded is named with the reason, before the missing candidates', () => {
  // A real load of a file that is not an addon: the loader's own `require` of it fails.
  const dir = tempDir('gatsby-dsg-broken-')
  try {
    for (const file of ['index.js', 'binding.js', 'package.json'])
      fs.copyFileSync(path.join(ROOT, file), path.join(dir, file))
    const { hostPlatform } = require('../scripts/build-addon')
    fs.writeFileSync(path.join(dir, `gatsby-dsg.${hostPlatform()}.node`), 'not an ELF file')
    const result = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', dir], { encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`gatsby-dsg: no native addon loads on ${hostPlatform()}`)
    expect(result.stderr).toMatch(/An addon was found but could not be loaded: .*gatsby-dsg\.[a-z0-9-]+\.node/)
    expect(result.stderr).toMatch(
      /Tried, in order:\n {2}- \S+gatsby-dsg\.[a-z0-9-]+\.node: .+\n {2}- Cannot find module 'gatsby-dsg-/,
    )
    expect(result.stderr).not.toMatch(/npm has a bug/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

describe('prepack', () => {
  /** A copy of the repository's package files (no addon, no build), as a fresh clone has them. */
  function clone() {
    const dir = tempDir('gatsby-dsg-prepack-')
    for (const file of ['package.json', 'index.js', 'binding.js', 'index.d.ts'])
      fs.copyFileSync(path.join(ROOT, file), path.join(dir, file))
    for (const sub of ['scripts', 'npm']) fs.cpSync(path.join(ROOT, sub), path.join(dir, sub), { recursive: true })
    return dir
  }
  /** A PATH with node and sh (npm runs scripts with it) and nothing else: no cargo. */
  function pathWithoutCargo(dir) {
    const bin = path.join(dir, '.bin-without-cargo')
    fs.mkdirSync(bin)
    fs.symlinkSync(process.execPath, path.join(bin, 'node'))
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'))
    return bin
  }

  test('`npm pack` without the addon and without Rust makes no tarball and says what to install', () => {
    const dir = clone()
    try {
      // npm itself, run by this node: the PATH below has nothing but node.
      const npmCli =
        process.env.npm_execpath ||
        path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')
      const env = { ...process.env, PATH: pathWithoutCargo(dir), CARGO: '' }
      const result = spawnSync(process.execPath, [npmCli, 'pack', '--pack-destination', dir], {
        cwd: dir,
        env,
        encoding: 'utf8',
      })
      expect(result.status).not.toBe(0)
      expect(result.stderr).toMatch(
        /gatsby-dsg prepack: gatsby-dsg\.[a-z0-9-]+\.node has not been built, and it cannot be built here: `cargo` was not found\. Install Rust \(https:\/\/rustup\.rs\)/,
      )
      expect(result.stderr).toContain('no tarball was made')
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'))).toEqual([])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('with every npm/<platform> package holding its addon (the publish job), it lets the root package be packed', () => {
    const dir = clone()
    try {
      for (const t of targets)
        fs.writeFileSync(path.join(dir, 'npm', t.platformArchABI, `gatsby-dsg.${t.platformArchABI}.node`), 'addon')
      const env = { ...process.env, PATH: pathWithoutCargo(dir), CARGO: '' }
      const result = spawnSync(process.execPath, [path.join(dir, 'scripts', 'prepack.js')], {
        cwd: dir,
        env,
        encoding: 'utf8',
      })
      expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 0, stdout: '' })
      expect(result.stderr).toContain(`all ${targets.length} platform packages hold their addon`)
      // One missing is not a release: then this machine's addon is needed, and cannot be built here.
      fs.rmSync(path.join(dir, 'npm', 'darwin-x64', 'gatsby-dsg.darwin-x64.node'))
      const partial = spawnSync(process.execPath, [path.join(dir, 'scripts', 'prepack.js')], {
        cwd: dir,
        env,
        encoding: 'utf8',
      })
      expect(partial.status).toBe(1)
      expect(partial.stderr).toContain('`cargo` was not found')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

test('`npm version` moves the platform packages and the optional dependencies on them to the new version, in its commit', () => {
  const dir = tempDir('gatsby-dsg-version-')
  try {
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'))
    for (const sub of ['scripts', 'npm']) fs.cpSync(path.join(ROOT, sub), path.join(dir, sub), { recursive: true })
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
    fs.writeFileSync(path.join(dir, '.gitignore'), 'node_modules\n')
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    }
    const git = (...args) => spawnSync('git', args, { cwd: dir, env, encoding: 'utf8' })
    git('init', '-q')
    git('add', '-A')
    git('commit', '-qm', 'init')
    const npmCli =
      process.env.npm_execpath ||
      path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')
    const bumped = spawnSync(process.execPath, [npmCli, 'version', '9.8.7'], { cwd: dir, env, encoding: 'utf8' })
    expect({ status: bumped.status, stderr: bumped.stderr }).toMatchObject({ status: 0 })
    const after = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
    expect(after.version).toBe('9.8.7')
    expect(Object.values(after.optionalDependencies)).toEqual(targets.map(() => '9.8.7'))
    for (const t of targets)
      expect(
        JSON.parse(fs.readFileSync(path.join(dir, 'npm', t.platformArchABI, 'package.json'), 'utf8')).version,
      ).toBe('9.8.7')
    // One commit, named as the release workflow's publish step expects, holding all of it.
    expect(git('log', '-1', '--pretty=%B').stdout.trim()).toBe('9.8.7')
    const changed = git('show', '--name-only', '--pretty=', 'HEAD').stdout.trim().split('\n').sort()
    expect(changed).toEqual(['package.json', ...targets.map((t) => `npm/${t.platformArchABI}/package.json`)].sort())
    expect(git('status', '--porcelain').stdout).toBe('')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
