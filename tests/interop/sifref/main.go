// sifref drives the reference SIF library (sylabs/sif v2, Debian golang-github-sylabs-sif-dev)
// for singlet's interoperability tests:
//
//	sifref dump FILE     load FILE with the library and print one JSON object per descriptor
//	sifref create FILE   write a deterministic SIF holding every data type
//	sifref sign KEY FILE               sign every object group of FILE (pkg/integrity) with the
//	                                   armored OpenPGP secret key in KEY
//	sifref verify [-legacy] [-legacy-all] [-group N] [-object N] KEYRING FILE
//	                                   verify FILE with the armored public keys of KEYRING;
//	                                   exit 0 when verified, 1 with the library's error
package main

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"flag"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/sylabs/sif/v2/pkg/integrity"
	"github.com/sylabs/sif/v2/pkg/sif"
)

type obj struct {
	ID      uint32 `json:"id"`
	Type    int32  `json:"type"`
	Group   uint32 `json:"group"`
	Link    uint32 `json:"link"`
	IsGroup bool   `json:"link_is_group"`
	Offset  int64  `json:"offset"`
	Size    int64  `json:"size"`
	Name    string `json:"name"`
	Fs      int32  `json:"fs,omitempty"`
	Part    int32  `json:"part,omitempty"`
	Arch    string `json:"arch,omitempty"`
	Hash    string `json:"hash,omitempty"`
	Entity  string `json:"entity,omitempty"`
	Format  int32  `json:"format,omitempty"`
	Message int32  `json:"message,omitempty"`
	Sha256  string `json:"sha256"`
}

func dump(path string) error {
	f, err := sif.LoadContainerFromPath(path, sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		return err
	}
	defer f.UnloadContainer()
	fmt.Printf("{\"header\":{\"arch\":%q,\"id\":%q,\"free\":%d,\"total\":%d,\"data_offset\":%d,\"data_size\":%d,\"launch\":%q}}\n",
		f.PrimaryArch(), f.ID(), f.DescriptorsFree(), f.DescriptorsTotal(), f.DataOffset(), f.DataSize(), f.LaunchScript())
	var outErr error
	f.WithDescriptors(func(d sif.Descriptor) bool {
		data, err := d.GetData()
		if err != nil {
			outErr = err
			return true
		}
		sum := sha256.Sum256(data)
		id, isGroup := d.LinkedID()
		o := obj{ID: d.ID(), Type: int32(d.DataType()), Group: d.GroupID(), Link: id, IsGroup: isGroup,
			Offset: d.Offset(), Size: d.Size(), Name: d.Name(), Sha256: hex.EncodeToString(sum[:])}
		switch d.DataType() {
		case sif.DataPartition:
			fs, pt, arch, err := d.PartitionMetadata()
			if err == nil {
				o.Fs, o.Part, o.Arch = int32(fs), int32(pt), arch
			}
		case sif.DataSignature:
			ht, fp, err := d.SignatureMetadata()
			if err == nil {
				o.Hash = ht.String()
				o.Entity = hex.EncodeToString(fp)
			}
		case sif.DataCryptoMessage:
			ft, mt, err := d.CryptoMessageMetadata()
			if err == nil {
				o.Format, o.Message = int32(ft), int32(mt)
			}
		case sif.DataSBOM:
			sf, err := d.SBOMMetadata()
			if err == nil {
				o.Format = int32(sf)
			}
		}
		b, _ := json.Marshal(o)
		fmt.Println(string(b))
		return false
	})
	return outErr
}

func create(path string) error {
	squash, err := os.ReadFile(os.Getenv("SIFREF_SQUASHFS"))
	if err != nil {
		return fmt.Errorf("SIFREF_SQUASHFS: %w", err)
	}
	fp, _ := hex.DecodeString("BCF46F30DC63419178B716A1E5E4D2499B549044")
	in := func(t sif.DataType, data []byte, opts ...sif.DescriptorInputOpt) sif.DescriptorInput {
		di, err := sif.NewDescriptorInput(t, bytes.NewReader(data), opts...)
		if err != nil {
			panic(err)
		}
		return di
	}
	dis := []sif.DescriptorInput{
		in(sif.DataDeffile, []byte("bootstrap: docker\nfrom: busybox\n")),
		in(sif.DataEnvVar, []byte("A=1\n"), sif.OptObjectName("env.txt")),
		in(sif.DataLabels, []byte(`{"a":"b"}`), sif.OptObjectName("labels.json")),
		in(sif.DataGenericJSON, []byte(`{"x":1}`), sif.OptObjectName("inspect-metadata.json")),
		in(sif.DataGeneric, []byte("raw bytes"), sif.OptNoGroup(), sif.OptObjectName("raw.bin")),
		in(sif.DataPartition, squash, sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, "amd64")),
		in(sif.DataPartition, squash, sif.OptGroupID(2), sif.OptPartitionMetadata(sif.FsSquash, sif.PartSystem, "arm64")),
		in(sif.DataSignature, []byte("-----BEGIN PGP SIGNED MESSAGE-----\n"), sif.OptNoGroup(), sif.OptLinkedGroupID(1), sif.OptSignatureMetadata(crypto.SHA256, fp)),
		in(sif.DataCryptoMessage, []byte("pem"), sif.OptLinkedID(6), sif.OptCryptoMessageMetadata(sif.FormatPEM, sif.MessageRSAOAEP)),
		in(sif.DataSBOM, []byte(`{"bomFormat":"CycloneDX"}`), sif.OptSBOMMetadata(sif.SBOMFormatCycloneDXJSON), sif.OptObjectName("sbom.json")),
		in(sif.DataType(0x400A), []byte(`{"schemaVersion":2}`)),
		in(sif.DataType(0x400B), []byte("blob"), sif.OptObjectAlignment(512)),
	}
	f, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(dis...),
		sif.OptCreateWithLaunchScript("#!/usr/bin/env run-singularity\n"), sif.OptCreateDeterministic())
	if err != nil {
		return err
	}
	return f.UnloadContainer()
}

func readKeys(path string) (openpgp.EntityList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return openpgp.ReadArmoredKeyRing(f)
}

func sign(key, path string) error {
	el, err := readKeys(key)
	if err != nil {
		return err
	}
	f, err := sif.LoadContainerFromPath(path)
	if err != nil {
		return err
	}
	defer f.UnloadContainer()
	s, err := integrity.NewSigner(f, integrity.OptSignWithEntity(el[0]))
	if err != nil {
		return err
	}
	return s.Sign()
}

func verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	legacy := fs.Bool("legacy", false, "legacy signatures")
	legacyAll := fs.Bool("legacy-all", false, "legacy signatures of every object")
	group := fs.Uint("group", 0, "object group")
	object := fs.Uint("object", 0, "object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("usage: sifref verify [flags] KEYRING FILE")
	}
	el, err := readKeys(fs.Arg(0))
	if err != nil {
		return err
	}
	f, err := sif.LoadContainerFromPath(fs.Arg(1), sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		return err
	}
	defer f.UnloadContainer()
	opts := []integrity.VerifierOpt{integrity.OptVerifyWithKeyRing(el)}
	if *legacy {
		opts = append(opts, integrity.OptVerifyLegacy())
	}
	if *legacyAll {
		opts = append(opts, integrity.OptVerifyLegacyAll())
	}
	if *group != 0 {
		opts = append(opts, integrity.OptVerifyGroup(uint32(*group)))
	}
	if *object != 0 {
		opts = append(opts, integrity.OptVerifyObject(uint32(*object)))
	}
	v, err := integrity.NewVerifier(f, opts...)
	if err != nil {
		return err
	}
	return v.Verify()
}

func main() {
	if len(os.Args) >= 2 && (os.Args[1] == "sign" || os.Args[1] == "verify") {
		var err error
		if os.Args[1] == "sign" && len(os.Args) == 4 {
			err = sign(os.Args[2], os.Args[3])
		} else if os.Args[1] == "verify" {
			err = verify(os.Args[2:])
		} else {
			err = fmt.Errorf("usage: sifref sign KEY FILE")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sifref dump|create FILE")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "dump":
		err = dump(os.Args[2])
	case "create":
		err = create(os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
