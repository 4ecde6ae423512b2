package jenkinstest

// The seed's armory job and build (shared/fixtures/jenkins/api-json).
const (
	// ArmoryJob is the armory folder job, in Igor's name.
	ArmoryJob = "armory/job/armory-hello-deploy/job/master"
	// ArmoryDeb is build #5's package, as archived.
	ArmoryDeb = "build/distributions/armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"
	// ArmoryProperties is build #5's property file, as archived.
	ArmoryProperties = "build/build.properties"
	// ArmorySHA1 is the commit build #5 was made from.
	ArmorySHA1 = "c4baff4a8f3e0b6d2c1e9f7a5b3d1c0e8f6a4b2d"
)

// SeedArmory loads the jobs and builds of shared/fixtures/jenkins/api-json:
// job1 #1, job2 #2, folder1/folder2/job3 #3 (running) and the armory job
// with #4 SUCCESS, #5 SUCCESS (the .deb, whose bytes here are a
// placeholder, and build.properties "a=hello b=world c=3", git master at
// ArmorySHA1), #6 FAILURE and #7 running.
func (s *Server) SeedArmory() {
	const ts = 1421717251402
	s.AddBuild("job1", Build{Number: 1, Result: "SUCCESS", Timestamp: ts, Duration: 39238})
	s.AddBuild("job2", Build{Number: 2, Result: "SUCCESS", Timestamp: ts, Duration: 39238})
	s.AddBuild("folder1/job/folder2/job/job3", Build{Number: 3, Building: true, Timestamp: ts})
	s.AddBuild(ArmoryJob, Build{Number: 4, Result: "SUCCESS", Timestamp: 1490721160000, Duration: 50012})
	s.AddBuild(ArmoryJob, Build{Number: 5, Result: "SUCCESS", Timestamp: 1490819400000, Duration: 52311,
		Artifacts: map[string][]byte{
			ArmoryProperties: []byte("a=hello\nb=world\nc=3\n"),
			ArmoryDeb:        []byte("placeholder for armory-hello-deploy_0.5.0-h5.c4baff4_all.deb\n"),
		},
		SCM: []SCM{{Ref: "refs/remotes/origin/master", SHA1: ArmorySHA1,
			RemoteURL: "https://github.com/armory/armory-hello-deploy.git"}},
	})
	s.AddBuild(ArmoryJob, Build{Number: 6, Result: "FAILURE", Timestamp: 1490821200000, Duration: 41234})
	s.AddBuild(ArmoryJob, Build{Number: 7, Building: true, Timestamp: 1490822460000})
}
