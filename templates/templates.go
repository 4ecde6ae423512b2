// Package templates ships Bakehouse's own Packer templates and the script
// they run, so a bakery can install a working template directory without
// files from anywhere else.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Names of the files Install writes. Bakehouse owns these names: Install
// overwrites them so an upgrade brings new templates. Operators who want a
// changed template copy it under another name, which Install never touches.
const (
	// DockerTemplate is the Packer template for the docker provider; it takes
	// Rosco's docker -var set unchanged.
	DockerTemplate = "docker.json"
	// AWSEBSTemplate is the amazon-ebs template for the aws provider; it
	// takes Rosco's aws -var set unchanged.
	AWSEBSTemplate = "aws-ebs.json"
	// AWSMultiEBSTemplate is AWSEBSTemplate that also copies the AMI to the
	// regions copy_to_1..10 and shares it with the accounts share_with_1..10
	// (Rosco's unrolled copy_to and share_with extended attributes).
	AWSMultiEBSTemplate = "aws-multi-ebs.json"
	// AWSChrootTemplate is the amazon-chroot template. Packer must run it as
	// root on an EC2 instance: list it in templatesNeedingRoot.
	AWSChrootTemplate = "aws-chroot.json"
	// InstallScript is uploaded into the image by the templates' shell
	// provisioner; it keeps Rosco's install_packages.sh contract.
	InstallScript = "install_packages.sh"
)

// ManifestFile is the file the AWS templates' manifest post-processor
// writes in Packer's working directory: the build's artifact id
// ("region:ami-id,..."), the bake id and the source and target AMI.
const ManifestFile = "bakehouse-manifest.json"

//go:embed packer/docker.json packer/aws-ebs.json packer/aws-multi-ebs.json packer/aws-chroot.json packer/install_packages.sh
var files embed.FS

// Names lists the files Install writes, in a stable order.
func Names() []string {
	return []string{DockerTemplate, AWSEBSTemplate, AWSMultiEBSTemplate, AWSChrootTemplate, InstallScript}
}

// Read returns the embedded content of the named file, for tests and for
// showing an operator what Install would write.
func Read(name string) ([]byte, error) {
	b, err := files.ReadFile(path.Join("packer", name))
	if err != nil {
		return nil, fmt.Errorf("read embedded template %s: %w", name, err)
	}
	return b, nil
}

// Install writes Bakehouse's templates into dir, the bakery's template
// directory (Rosco's configDir), creating dir if needed. Each file is written
// to a temporary file and renamed into place, so a bake starting meanwhile
// sees either the old or the new file, never half of one. Files already
// holding the right content and mode are left alone; other files in dir are
// never touched.
func Install(dir string) error {
	if dir == "" {
		return fmt.Errorf("install templates: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install templates: %w", err)
	}
	for _, name := range Names() {
		b, err := Read(name)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if filepath.Ext(name) == ".sh" {
			mode = 0o755
		}
		if err := writeFile(filepath.Join(dir, name), b, mode); err != nil {
			return fmt.Errorf("install templates: %w", err)
		}
	}
	return nil
}

// writeFile replaces file with b and mode atomically, skipping the write when
// file already holds exactly that.
func writeFile(file string, b []byte, mode fs.FileMode) error {
	if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, b) {
		if fi, err := os.Stat(file); err == nil && fi.Mode().Perm() == mode {
			return nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
