package main

import (
	"os"
	"testing"
)

// TestThirdPartyUpToDate: THIRD_PARTY.md lists exactly the modules the
// slotline binary links, each under a licence the project may ship.
func TestThirdPartyUpToDate(t *testing.T) {
	mods, err := Modules(t.Context(), "../../cmd/slotline")
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../THIRD_PARTY.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != string(Render(mods)) {
		t.Error("THIRD_PARTY.md is out of date: run go run ./tools/licenses")
	}
}

// TestClassify names the licences by their texts and refuses others.
func TestClassify(t *testing.T) {
	for text, want := range map[string]string{
		"Apache License\n Version 2.0, January 2004":                                       "Apache-2.0",
		"Permission is hereby granted, free of charge, to any person":                      "MIT",
		"Redistribution and use in source and binary forms ... Neither the name of Google": "BSD-3-Clause",
		"Redistribution and use in source and binary forms, with or without modification":  "BSD-2-Clause",
		"Permission to use, copy, modify, and/or distribute this software for any purpose": "ISC",
		"Mozilla Public License Version 2.0":                                               "MPL-2.0",
		"GNU GENERAL PUBLIC LICENSE Version 3":                                             "",
	} {
		if got := classify(text); got != want {
			t.Errorf("classify(%q) = %q, want %q", text, got, want)
		}
	}
	if _, ok := compatible["GPL-3.0"]; ok {
		t.Error("GPL-3.0 counted as compatible")
	}
}
