/**
 * `baton init`'s files and its vendored Baton, with the packing replaced by a fake (the real one,
 * a build and `npm pack`, is test/package/adopt.test.ts's path).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StepFailedError } from "../../cli/exit-codes.ts";
import { initProject } from "../../cli/init.ts";
import packageJson from "../../package.json" with { type: "json" };

const TARBALL = `vendor/baton-${packageJson.version}.tgz`;

/** A packer that writes a tarball of the right name with `content`, and counts its calls. */
function fakePack(content = "packed") {
  const calls: string[] = [];
  return {
    calls,
    pack(destination: string) {
      calls.push(destination);
      const path = join(destination, `baton-${packageJson.version}.tgz`);
      writeFileSync(path, content);
      return path;
    },
  };
}

function newDir() {
  return join(mkdtempSync(join(tmpdir(), "baton-init-test-")), "my-tasks");
}

function dependencyOf(project: string): string {
  return JSON.parse(readFileSync(join(project, "package.json"), "utf8")).dependencies.baton;
}

describe("baton init", () => {
  it("packs Baton into vendor/ and depends on it by a path inside the project", () => {
    const project = newDir();
    const packer = fakePack();
    const written = initProject(project, { pack: packer.pack });
    expect(written[0]).toBe(TARBALL);
    expect(written).toContain("package.json");
    expect(readFileSync(join(project, TARBALL), "utf8")).toBe("packed");
    expect(dependencyOf(project)).toBe(`file:${TARBALL}`);
    // Packed elsewhere first: never into the project's own folder.
    expect(packer.calls).toHaveLength(1);
    expect(packer.calls[0]?.startsWith(project)).toBe(false);
    const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
    expect(manifest.engines).toEqual(packageJson.engines);
    // Its own Node, as this repository has: npm scripts run on it whatever the machine's Node.
    expect(manifest.devDependencies.node).toBe(packageJson.devDependencies.node);
    expect(manifest.allowScripts.node).toBe(true);
  });

  it("keeps a tarball already in vendor/: it overwrites no file and packs nothing", () => {
    const project = newDir();
    mkdirSync(join(project, "vendor"), { recursive: true });
    writeFileSync(join(project, TARBALL), "the project's own");
    const packer = fakePack();
    const written = initProject(project, { pack: packer.pack });
    expect(packer.calls).toEqual([]);
    expect(written).not.toContain(TARBALL);
    expect(readFileSync(join(project, TARBALL), "utf8")).toBe("the project's own");
    expect(dependencyOf(project)).toBe(`file:${TARBALL}`);
  });

  it("writes nothing when packing fails", () => {
    const project = newDir();
    const failing = () => {
      throw new StepFailedError("packing Baton failed (exit 1)");
    };
    expect(() => initProject(project, { pack: failing })).toThrow(StepFailedError);
    expect(existsSync(project)).toBe(false);
  });

  it("with --baton, depends on that and packs nothing", () => {
    const project = newDir();
    const packer = fakePack();
    initProject(project, { baton: "git+https://example.com/baton.git", pack: packer.pack });
    expect(packer.calls).toEqual([]);
    expect(existsSync(join(project, "vendor"))).toBe(false);
    expect(dependencyOf(project)).toBe("git+https://example.com/baton.git");
  });
});
