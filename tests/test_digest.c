/*
 * Digests and libmagic types of the fixtures, checked against the peer tools.
 *
 * The expected values come from these tools, and make-expected.sh saves
 * their output in tests/expected/:
 * - md5sum, sha1sum, sha256sum and sha512sum (GNU coreutils 9.1).
 * - xxhsum 0.8.1 with -H1 (XXH64), -H2 (XXH3 128-bit) and -H3 (XXH3
 *   64-bit), all with seed 0. It prints the canonical big-endian hex, which
 *   is also the form the record uses.
 * - file -b --mime-type and file -b (file 5.44 with the magic database of
 *   Debian 12's libmagic-mgc).
 *
 * The fixtures are read from the directory named by MX_TEST_DATA.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metaextract.h"
#include "support.h"

/*
 * Expected digests of one fixture. The strings are arrays, not pointers,
 * so that Criterion can copy a case into the process that runs the test.
 */
struct digest_case {
	char name[48];
	long long size;
	char md5[33];
	char sha1[41];
	char sha256[65];
	char sha512[129];
	char xxh64[17];
	char xxh128[33];
	char xxh3[17];
};

struct type_case {
	char name[48];
	char mime[32];
	char description[128];
};

static struct digest_case digest_cases[] = {
	{
		.name = "exiftool_QuickTime.mov",
		.size = 3871,
		.md5 = "720f1476b7df1f35a36362a5a3ecbf77",
		.sha1 = "9589242f4f93bb3c45331621242f0d1b7e358e8d",
		.sha256 = "eea529609b6026e0cd7b3d9188b99788"
			  "9f905cd89a93421ad7a9063c670449ec",
		.sha512 = "f04d8308adb4dd01063ebc668695e63d"
			  "4e4fefd9199f3eb055820abfcd056081"
			  "9ab68fbfe23a51605bcf0fd751b02154"
			  "5c7bd22d3ca7694ce2dca0dce81ec329",
		.xxh64 = "2951ed12da1c5226",
		.xxh128 = "75a9b38226d576f7284b637ba86d3c97",
		.xxh3 = "284b637ba86d3c97",
	},
	{
		.name = "gen_chapters.mkv",
		.size = 16462,
		.md5 = "6db67fff27cf74f6bfcc147022e3a2d1",
		.sha1 = "7cc0ca19218b3e10e50a65c805cf025b8bcdb665",
		.sha256 = "4afdca7b56473ede3c95f51ec8280345"
			  "ca5c822c37caff145bb0db6a718f7dfd",
		.sha512 = "c534e0fbf99c205396c286732c72eb21"
			  "b713b5d8bc16d43e974de179af932280"
			  "b0e1181a7348244ba357a3b322d1e551"
			  "5071d08d1a3f3d341f26c35d41bb5f2e",
		.xxh64 = "0a05656a2c43fe5a",
		.xxh128 = "7988016c6fe6653ab3ef1949a314a8bc",
		.xxh3 = "b3ef1949a314a8bc",
	},
	{
		.name = "gen_chunked.h5",
		.size = 9934,
		.md5 = "d284de950ba74bba4eb6a82aa6f0f8ed",
		.sha1 = "0f24aa51bb80f9826059f0222a60562dff419dd3",
		.sha256 = "198f940660c3e1d0deb0f5f0a9a6ee5b"
			  "2e3741366eab9ede6a201a5aab7e02cb",
		.sha512 = "5e1d263d41e3c40158bd7d5261e67dc7"
			  "9c28f861f0019a16aa48183741aa0966"
			  "73a6fdf9b4d72671c965657d35b65905"
			  "8b03eeb8980a9abcd8138320f0728ab0",
		.xxh64 = "dcfdfc36e25cf46e",
		.xxh128 = "fc3d0e69ff042919445195e2e1ca9286",
		.xxh3 = "445195e2e1ca9286",
	},
	{
		.name = "gen_faststart.mp4",
		.size = 9754,
		.md5 = "429fe66f95642c0fa0f792c2028f4a8f",
		.sha1 = "b32117ff0ea4f9ef13b79881f7d75bcbc1464f98",
		.sha256 = "71e33b9dbc257212a8cbbe12c0709ac1"
			  "8a206439b5e75acbae462cf7cb24df28",
		.sha512 = "473ef1dd39bb5ef90eb51053d1282a17"
			  "035687a644121b15200e8aef7bd3cbc0"
			  "b0d749020e4750b079d0418d8b7afbda"
			  "06eb8b56ced0b2404357f532bcc14fff",
		.xxh64 = "61b587a3d81a1459",
		.xxh128 = "b0c38e79c06ac499315bf45af35fb3da",
		.xxh3 = "315bf45af35fb3da",
	},
	{
		.name = "gen_moov_end.mp4",
		.size = 9754,
		.md5 = "f7cbee1d62d6e64dd16ec98d0527339e",
		.sha1 = "8e8aa6c6e8885085a9cf784e2f87220131294bc0",
		.sha256 = "364fc72f6bdfb2c46a3b6cc58cf1ed05"
			  "0dc346c74ac7191f0fcc008e1d2c0273",
		.sha512 = "81208136149e3fd94622e98f640c3290"
			  "5c027eb28fd80add5a0e97963f464cb2"
			  "a3ab16e8151d43593a88fe4cd05d4616"
			  "4a92f4a04cbea60d777460a31ef3b089",
		.xxh64 = "19b70d794d9337ff",
		.xxh128 = "8f253fbfa2b7817d89847b7e4020e679",
		.xxh3 = "89847b7e4020e679",
	},
	{
		.name = "gen_notes.txt",
		.size = 96,
		.md5 = "423d784350997480838be380e82b912c",
		.sha1 = "eca613cb5ac5e7fd79f18605f5b4e87dedcd93b7",
		.sha256 = "aab116914f884df6b655c54419e3cf39"
			  "21104672867e7189db5fc278a9dcd6e3",
		.sha512 = "dd2fbdc33ba81f41aaf78c6ddad6acc4"
			  "30ad37f9075cb9eebdb3a93c74d87269"
			  "620155b02bdda221254c17ebedeb7f21"
			  "dfd0ac03725411f4f0ed9eaca4ded5ab",
		.xxh64 = "99cdefb345fceb09",
		.xxh128 = "6d115b175d341c44c49ef98d493816cc",
		.xxh3 = "65a7ea4969dafceb",
	},
	{
		.name = "gen_tone.flac",
		.size = 11183,
		.md5 = "307f534b1c4483424debc95a8bad3e68",
		.sha1 = "ca7883934175353886ab4e976e6a20eece9ece27",
		.sha256 = "08d88ed894f39a21ddb4572a84898590"
			  "876f623f0d232579dfe80a47002add17",
		.sha512 = "7c05c2ed156663df35bcec06eaaeba5a"
			  "e20942f41071cf6a0babd44c063897b2"
			  "3cfc50e01a1bc24f84bb43bc447882ee"
			  "76fe8e2149e2c56ab6c5736a374a83e8",
		.xxh64 = "9ee005fa2e225953",
		.xxh128 = "32a51ebd67014ce9b6e11216048aac5d",
		.xxh3 = "b6e11216048aac5d",
	},
	{
		.name = "gen_tone.mp3",
		.size = 2530,
		.md5 = "f97a79ffbb9e60beea5f388eb52b991f",
		.sha1 = "50f6be47381ac86764a473577863f4ebf00d6dd2",
		.sha256 = "99730cfa4ccef040c8f6dc1b68d00ae8"
			  "cb2de30f1638bf3b45c76f64349391e2",
		.sha512 = "3e4bf7d8490b358938f71e5a482a9eee"
			  "af75910da1d657d6080bc26dfb4e5851"
			  "ef3c6ecf8b34bbc8fa46ef5aa8d9bc01"
			  "754036da64575d07890a5eb96f4182f4",
		.xxh64 = "73566e3f573c9c82",
		.xxh128 = "d9cb53589a72ed37cc457ef3b33a9826",
		.xxh3 = "cc457ef3b33a9826",
	},
	{
		.name = "gen_tone.wav",
		.size = 8044,
		.md5 = "94539f8b522a322e53776e1dd45f104d",
		.sha1 = "24f697afbdcab6473379fec71fa117aa6705da76",
		.sha256 = "a8ef0d52bc40e92a628ef2a8ecf98e06"
			  "8859adcd02587a763a9cab511a1a3d75",
		.sha512 = "3fd4c5f9235a786346fd0e680c31827d"
			  "2af0042bcc7ac8b5fea752bc27983f05"
			  "214e5d6f58e16c1850fade0d2b830c4b"
			  "60796275cb84247c5f5fa3f1718ab09f",
		.xxh64 = "46afef6c2ba56779",
		.xxh128 = "e84993ca0ba56ec257f452ca663bdc33",
		.xxh3 = "57f452ca663bdc33",
	},
	{
		.name = "gen_truncated.h5",
		.size = 4460,
		.md5 = "a6e2f6fade0bcfc13360a66149c6af96",
		.sha1 = "c3100d3f24b93bd94064c0dbfc91e4d1791b22af",
		.sha256 = "38612b534200106f528c1bd2f0c6d4a1"
			  "f0c1d634d5acf217afc1cabd8dc21f0a",
		.sha512 = "0a7ab26144e5bee7408ab09e68bfea0c"
			  "1b007d1274d009d02d6b08be2b6238b0"
			  "37a98cec44d4cf7bfd96623526410d72"
			  "eb2b02cb086db4be9fe43e4e2a614883",
		.xxh64 = "b0e51a67c3530774",
		.xxh128 = "d067b4de5dc8fe1f21ae7762993a2d29",
		.xxh3 = "21ae7762993a2d29",
	},
	{
		.name = "gen_truncated.mp4",
		.size = 5712,
		.md5 = "d24b795683ba059d5b0cff619bedc57a",
		.sha1 = "81794ea3faf9ea3777031984ab99916d09ab40f7",
		.sha256 = "7289c062d7b2368616f5ba3f9fd712ed"
			  "af9a0d29bd4121121d809430d6ec38af",
		.sha512 = "6c5c9f29dcf5380aaaf001087c88fb72"
			  "1432f2f69f34a9cd3b5e1b1fd1e95789"
			  "bddb3c3160364867fec0f60a9f694211"
			  "ebd053d923223ae2bdc8995ae433566b",
		.xxh64 = "bda15caa6d5cdbeb",
		.xxh128 = "425935987f61bb950ff5d71e012a32f4",
		.xxh3 = "0ff5d71e012a32f4",
	},
	{
		.name = "gen_types.h5",
		.size = 8920,
		.md5 = "fc5a2be7898c9e05600545893446d10e",
		.sha1 = "aae6fddeafc7fdfaac81aac7c0b228528126f3d4",
		.sha256 = "7b235476e064a1851981845d41059b18"
			  "9cfcd75d8b3f15d806a73bfd7b874551",
		.sha512 = "81f71de5cdd585c5002b8f46a99d252c"
			  "259bb364df10bed79a5a6588105a66af"
			  "451bdaf6bfd9791458d661137613d59c"
			  "9fa950b533cc4c5b6882dc724c6151e7",
		.xxh64 = "b8dc222d471e89e3",
		.xxh128 = "6812f0195bceb15506de1376f4c1e44f",
		.xxh3 = "06de1376f4c1e44f",
	},
	{
		.name = "hdf5json_tall.h5",
		.size = 8292,
		.md5 = "254c748b9a94530f6bcb9171b4c8e96f",
		.sha1 = "611d6597b29d740c4937a69195e64ea043667068",
		.sha256 = "d6e4442fd9c9294c99f73954efae4055"
			  "8ca344e33298041897c2100f23fcf2f7",
		.sha512 = "3465f2d83bdd9cfa1ee8e961c50209fc"
			  "2b09c52d73c727740057ce77ef074f4f"
			  "5b0467abc711860714571346a4162343"
			  "41028e2c85d79ac8e5574cf375d463be",
		.xxh64 = "6b741b18eafdda8f",
		.xxh128 = "a516cb8907315c046fbea7d9ed71bb28",
		.xxh3 = "6fbea7d9ed71bb28",
	},
	{
		.name = "jhdf_test_userblock_latest.hdf5",
		.size = 1219,
		.md5 = "173a4d4cdeb026f0cbc24de0e443011d",
		.sha1 = "503c5d4e22f70dee0273a1510559d6fcdb969feb",
		.sha256 = "4025d34d353ed686fd7ec1785a907e21"
			  "371615a42e0fb2c5d130799d9d243274",
		.sha512 = "5337a193dc5c5691e9d045d85bb6a131"
			  "61fed88fc9a44e61b2b172caa8259426"
			  "b3c871e4790b2f54426ac5631e65a1ff"
			  "edde4ca74a906a506e4a92031ee0a725",
		.xxh64 = "fab5b187e427a601",
		.xxh128 = "0bffa0bbc0399b777fa6993e5e54351d",
		.xxh3 = "7fa6993e5e54351d",
	},
	{
		.name = "libarchive_test_compat_gtar_1.tar",
		.size = 10240,
		.md5 = "a41e3cbc52753027e0b0453edee9b040",
		.sha1 = "737bfb46f02795d0fa1796e22665e2ac4d84cb0d",
		.sha256 = "ccc84a4138ebe71fe57cd28ea4640418"
			  "2c4cb096222ae3a9e1d41db14e60ab84",
		.sha512 = "7c767b18bbeb11295164443b90fc2350"
			  "43d3d529e8827e26ae894f69e763b89c"
			  "9f65aa9bc74e9194cacce6476721e88d"
			  "9add48fab636c4c744012aa61b598012",
		.xxh64 = "8aa58dd73ca72cbb",
		.xxh128 = "7665568e6f3acd29de720c37569c23de",
		.xxh3 = "de720c37569c23de",
	},
	{
		.name = "mp4rust_minimal.mp4",
		.size = 2591,
		.md5 = "cf863a8805072d85bb0d1d5cdf4de60e",
		.sha1 = "9522341b0ad810e401d35fff06f07945ca6303a3",
		.sha256 = "61bb3b313bf405396992935704ab4e53"
			  "256f79d3c214f7f250ca7bcc03842d50",
		.sha512 = "5d23c65c3be42cc0964a4de2b63df42a"
			  "20987d8f467dfd47ccda25a222fe9826"
			  "899d4742470cac5929229cf5395d7bc5"
			  "aa9306d51376d772945569e8c36f0a99",
		.xxh64 = "f8a5d9d6d7942831",
		.xxh128 = "4804babf743a310d85af8cf9dec9c47b",
		.xxh3 = "85af8cf9dec9c47b",
	},
	{
		.name = "mutagen_ooming-header.flac",
		.size = 86,
		.md5 = "71f024b03dece1c3947bef092ba71d67",
		.sha1 = "689f33f981f8a449f34460ce733dc06e3ade382c",
		.sha256 = "97c13c3ef9118039760d5cbd5fc3362c"
			  "891e837b5684344c2fa8296d7b581828",
		.sha512 = "2a21edbda91f3bbafeb3161928e9b95a"
			  "5456b748fb0d41d55b8ce01b4f139325"
			  "3c1e836dc4288e0e61ad1dacb19724ac"
			  "234930025cf29d6808ab9d045aa29937",
		.xxh64 = "f0975b655ae82fff",
		.xxh128 = "9aacf3a63c2ba0d58fce3799d54b8c1e",
		.xxh3 = "45d6156b0a410eb0",
	},
	{
		.name = "mutagen_truncated-64bit.mp4",
		.size = 2000,
		.md5 = "480c6f2c87f0d6b72b80c10aae430db9",
		.sha1 = "4f8d8005eb5d5f82a00c258c4600f865b31f7278",
		.sha256 = "5a80e766142b74b015c16eb71faadcea"
			  "7942db9a4117757bffc52947473f24fb",
		.sha512 = "a503b86e82ba67cfec447fbf01c1c512"
			  "34dac55f3f19ced34b20361624d8b7f4"
			  "5e72b208d4aff56ad9be2e5723d729d9"
			  "d4b71b865f83c630e741757cbb282a54",
		.xxh64 = "fae1343ff064b296",
		.xxh128 = "e8ddaf545734671d2b08d434837458d6",
		.xxh3 = "2b08d434837458d6",
	},
};

/*
 * file -b escapes unprintable bytes of the description as \ooo, and so does
 * libmagic unless MAGIC_RAW is set. So the MP3 line contains a literal
 * "\012" where the magic entry has a newline.
 */
static struct type_case type_cases[] = {
	{
		.name = "exiftool_QuickTime.mov",
		.mime = "video/quicktime",
		.description =
			"Apple QuickTime movie (fast start)",
	},
	{
		.name = "gen_chapters.mkv",
		.mime = "video/x-matroska",
		.description =
			"Matroska data",
	},
	{
		.name = "gen_chunked.h5",
		.mime = "application/x-hdf5",
		.description =
			"Hierarchical Data Format (version 5) data",
	},
	{
		.name = "gen_faststart.mp4",
		.mime = "video/mp4",
		.description =
			"ISO Media, MP4 Base Media v1 [ISO 14496-12:2003]",
	},
	{
		.name = "gen_moov_end.mp4",
		.mime = "video/mp4",
		.description =
			"ISO Media, MP4 Base Media v1 [ISO 14496-12:2003]",
	},
	{
		.name = "gen_notes.txt",
		.mime = "text/plain",
		.description =
			"ASCII text",
	},
	{
		.name = "gen_tone.flac",
		.mime = "audio/flac",
		.description =
			"FLAC audio bitstream data, 16 bit, mono, 16 kHz, "
			"8000 samples",
	},
	{
		.name = "gen_tone.mp3",
		.mime = "audio/mpeg",
		.description =
			"Audio file with ID3 version 2.4.0, contains:\\012- "
			"MPEG ADTS, layer III, v2,  56 kbps, 22.05 kHz, "
			"Monaural",
	},
	{
		.name = "gen_tone.wav",
		.mime = "audio/x-wav",
		.description =
			"RIFF (little-endian) data, WAVE audio, Microsoft "
			"PCM, 16 bit, mono 8000 Hz",
	},
	{
		.name = "gen_truncated.h5",
		.mime = "application/x-hdf5",
		.description =
			"Hierarchical Data Format (version 5) data",
	},
	{
		.name = "gen_truncated.mp4",
		.mime = "video/mp4",
		.description =
			"ISO Media, MP4 Base Media v1 [ISO 14496-12:2003]",
	},
	{
		.name = "gen_types.h5",
		.mime = "application/x-hdf5",
		.description =
			"Hierarchical Data Format (version 5) data",
	},
	{
		.name = "hdf5json_tall.h5",
		.mime = "application/x-hdf5",
		.description =
			"Hierarchical Data Format (version 5) data",
	},
	{
		.name = "jhdf_test_userblock_latest.hdf5",
		.mime = "application/x-hdf5",
		.description =
			"Hierarchical Data Format (version 5) with 1k user "
			"block",
	},
	{
		.name = "libarchive_test_compat_gtar_1.tar",
		.mime = "application/x-tar",
		.description =
			"POSIX tar archive (GNU)",
	},
	{
		.name = "mp4rust_minimal.mp4",
		.mime = "video/mp4",
		.description =
			"ISO Media, MP4 Base Media v1 [ISO 14496-12:2003]",
	},
	{
		.name = "mutagen_ooming-header.flac",
		.mime = "audio/flac",
		.description =
			"FLAC audio bitstream data, 16 bit, stereo, 44.1 "
			"kHz, 6135740 samples",
	},
	{
		.name = "mutagen_truncated-64bit.mp4",
		.mime = "video/mp4",
		.description =
			"ISO Media, MP4 v2 [ISO 14496-14]",
	},
};

/* Settings for digests alone: every algorithm, no type, no parsing. */
static void init_digest_config(struct mx_config *cfg)
{
	mx_config_init(cfg);
	cfg->threads = 1;
	cfg->digests = MX_DIGEST_ALL;
	cfg->content = true;
	cfg->identify = false;
	cfg->parse = false;
}

/* Checks the 7 digests of MX_DIGEST_ALL against c. */
static void expect_all_digests(const struct mx_value *root,
			       const struct digest_case *c)
{
	expect_count(root, "/digests", MX_OBJECT, 7);
	expect_string(root, "/digests/md5", c->md5);
	expect_string(root, "/digests/sha1", c->sha1);
	expect_string(root, "/digests/sha256", c->sha256);
	expect_string(root, "/digests/sha512", c->sha512);
	expect_string(root, "/digests/xxh64", c->xxh64);
	expect_string(root, "/digests/xxh128", c->xxh128);
	expect_string(root, "/digests/xxh3", c->xxh3);
}

ParameterizedTestParameters(digest, fixture_digests)
{
	return cr_make_param_array(struct digest_case, digest_cases,
				   ARRAY_SIZE(digest_cases));
}

ParameterizedTest(struct digest_case *c, digest, fixture_digests)
{
	struct mx_config cfg;
	struct mx_record *rec;
	const struct mx_value *root;

	init_digest_config(&cfg);
	rec = extract_fixture_config(&cfg, c->name);
	root = mx_record_root(rec);

	expect_status(rec, MX_STATUS_OK);
	expect_int(root, "/size", c->size);
	expect_all_digests(root, c);
	mx_record_free(rec);
}

ParameterizedTestParameters(digest, fixture_type)
{
	return cr_make_param_array(struct type_case, type_cases,
				   ARRAY_SIZE(type_cases));
}

ParameterizedTest(struct type_case *c, digest, fixture_type)
{
	struct mx_config cfg;
	struct mx_record *rec;
	const struct mx_value *root;

	mx_config_init(&cfg);
	cfg.threads = 1;
	cfg.digests = 0;
	cfg.identify = true;
	cfg.parse = false;
	rec = extract_fixture_config(&cfg, c->name);
	root = mx_record_root(rec);

	expect_string(root, "/type/mime", c->mime);
	expect_string(root, "/type/description", c->description);
	mx_record_free(rec);
}

/*
 * Digests of zero bytes, as every implementation prints them, and
 * libmagic's type of an empty buffer. The engine passes libmagic the bytes
 * it read, so the peer is `file -b --mime-type - < empty`, which prints
 * application/x-empty. `file -b --mime-type empty` checks the inode first
 * and prints inode/x-empty instead.
 */
Test(digest, empty_file)
{
	static const struct digest_case empty = {
		.name = "empty",
		.size = 0,
		.md5 = "d41d8cd98f00b204e9800998ecf8427e",
		.sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		.sha256 = "e3b0c44298fc1c149afbf4c8996fb924"
			  "27ae41e4649b934ca495991b7852b855",
		.sha512 = "cf83e1357eefb8bdf1542850d66d8007"
			  "d620e4050b5715dc83f4a921d36ce9ce"
			  "47d0d13c5d85f2b0ff8318d2877eec2f"
			  "63b931bd47417a81a538327af927da3e",
		.xxh64 = "ef46db3751d8e999",
		.xxh128 = "99aa06d3014798d86001c324468d497f",
		.xxh3 = "2d06800538d394c2",
	};
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	char path[4096 + 8];
	struct mx_config cfg;
	struct mx_record *rec;
	const struct mx_value *root;
	int fd;

	snprintf(dir, sizeof(dir), "%s/mx-digest-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp(%s) failed: %s", dir,
			   strerror(errno));
	snprintf(path, sizeof(path), "%s/empty", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0, "creating %s failed: %s", path, strerror(errno));
	close(fd);

	init_digest_config(&cfg);
	cfg.identify = true;
	rec = extract(&cfg, path);
	root = mx_record_root(rec);

	support_set_context("empty file");
	expect_status(rec, MX_STATUS_OK);
	expect_int(root, "/size", 0);
	expect_all_digests(root, &empty);
	/* file -b --mime-type - and file -b - with the empty file as input */
	expect_string(root, "/type/mime", "application/x-empty");
	expect_string(root, "/type/description", "empty");
	mx_record_free(rec);

	unlink(path);
	rmdir(dir);
}

/* A failed parse keeps the digests: a failed file is still a record. */
Test(digest, kept_on_parse_error)
{
	const struct digest_case *c = NULL;
	struct mx_config cfg;
	struct mx_record *rec;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(digest_cases); i++) {
		if (strcmp(digest_cases[i].name, "gen_truncated.h5") == 0)
			c = &digest_cases[i];
	}
	cr_assert_not_null(c, "gen_truncated.h5 is missing from the table");

	init_digest_config(&cfg);
	cfg.identify = true;
	cfg.parse = true;
	rec = extract_fixture_config(&cfg, c->name);

	/* The file is cut short, so parsing it fails. */
	expect_status(rec, MX_STATUS_ERROR);
	expect_all_digests(mx_record_root(rec), c);
	mx_record_free(rec);
}

Test(digest, names_match_record_keys)
{
	static const struct {
		unsigned bit;
		const char *name;
	} expected[] = {
		{ MX_DIGEST_XXH3, "xxh3" },
		{ MX_DIGEST_XXH128, "xxh128" },
		{ MX_DIGEST_XXH64, "xxh64" },
		{ MX_DIGEST_MD5, "md5" },
		{ MX_DIGEST_SHA1, "sha1" },
		{ MX_DIGEST_SHA256, "sha256" },
		{ MX_DIGEST_SHA512, "sha512" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(expected); i++) {
		const char *got = mx_digest_name(expected[i].bit);

		cr_assert_not_null(got, "mx_digest_name(0x%x): expected \"%s\", "
				   "got NULL", expected[i].bit,
				   expected[i].name);
		cr_assert_str_eq(got, expected[i].name,
				 "mx_digest_name(0x%x): expected \"%s\", got "
				 "\"%s\"", expected[i].bit, expected[i].name,
				 got);
	}
}
