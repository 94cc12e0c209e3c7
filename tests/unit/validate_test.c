/* Validation of SPEC §3.4: one bad state per rule, each asserting the
 * file, JSON path and reason reported; a few good variants that must
 * load. States are written with ' for " to keep the table readable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/state.h"

#define POOL_INTERNAL                                                          \
	"'internal':{'type':'bridge','bridge':'br0','subnet':'10.0.4.0/24',"   \
	"'gateway':'10.0.4.1'}"
#define POOLS(...) "'network':{'pools':{" __VA_ARGS__ "}}"
#define ING(name, type, ext, prov, svc)                                        \
	"{'name':'" name "','type':'" type "','external':'" ext                \
	"','provider':'" prov "','service':'" svc "'}"
#define ING_WEB ING("web-in", "tcp", "0.0.0.0:80", "web", "http")
#define SVC(...)                                                               \
	"{'#spec':'service-manifest-xconnect@1','services':[" __VA_ARGS__ "]}"
#define SVC_HTTP "{'name':'http','type':'tcp','port':80}"
#define SVC_API "{'name':'api','type':'http','socket':'/run/api.sock'}"
#define RUN(...) "{'type':'process','exec':['/bin/true']" __VA_ARGS__ "}"
#define NET_POOL ",'network':{'pool':'internal'}"

/* device.json, web/run.json, web/services.json (NULL: the default, "":
 * left out), extra keys, and the message expected ("" for a good one). */
struct vcase {
	const char *dev, *run, *svc, *extra;
	const char *expect;
};

static const char def_dev[] =
    "{" POOLS(POOL_INTERNAL) ",'ingress':[" ING_WEB "]}";
static const char def_run[] = RUN(NET_POOL);
static const char def_svc[] = SVC(SVC_HTTP);

static const struct vcase cases[] = {
    /* ---- good variants ---- */
    {NULL, NULL, NULL, NULL, ""},
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING_WEB "," ING(
	 "v6", "tcp", "[::]:80", "web", "http") "]}",
     NULL, NULL, NULL, ""},
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING(
	 "a", "http", "0.0.0.0:8080/api", "web",
	 "api") "," ING("b", "http", "0.0.0.0:8080/x", "web",
			"api") "," ING("c", "http", "0.0.0.0:8080", "web",
				       "api") "]}",
     NULL, SVC(SVC_HTTP "," SVC_API), NULL, ""},
    {NULL, NULL, SVC("{'name':'http','type':'tcp','port':'80'}"), NULL, ""},
    {NULL, NULL, "[" SVC_HTTP "]", NULL, ""},
    {NULL,
     RUN(NET_POOL ",'services':{'optional':[{'name':'nope','type':'unix',"
		  "'target':'/run/x.sock'}]}"),
     NULL, NULL, ""},
    {NULL,
     RUN(",'network':{'mode':'pool','interfaces':[{'pool':'internal',"
	 "'ipv4_address':'10.0.4.9/24','mac_address':'02:00:0a:00:04:09'"
	 "}]}"),
     NULL, NULL, ""},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/24'}") "}", NULL,
     NULL, "'x/run.json':{'type':'lxc','unknown':{'a':1}}", ""},
    {"{'ingress':[]}", RUN(",'network':{'mode':'host'}"), NULL, NULL, ""},

    /* ---- ingress ---- */
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING_WEB "," ING(
	 "web-in", "tcp", "0.0.0.0:81", "web", "http") "]}",
     NULL, NULL, NULL,
     "device.json: ingress[1].name: duplicate ingress name 'web-in' "
     "(also ingress[0])"},
    {"{'ingress':[" ING("u", "udp", "0.0.0.0:53", "web", "http") "]}", NULL,
     NULL, NULL,
     "device.json: ingress[0].type: unknown ingress type 'udp' (expected "
     "tcp or http)"},
    {"{'ingress':[" ING("u", "tcp", "localhost:80", "web", "http") "]}", NULL,
     NULL, NULL,
     "device.json: ingress[0].external: 'localhost:80': invalid IPv4 "
     "address 'localhost'"},
    {"{'ingress':[" ING("u", "tcp", "0.0.0.0", "web", "http") "]}", NULL, NULL,
     NULL, "device.json: ingress[0].external: '0.0.0.0': expected IP:PORT"},
    {"{'ingress':[" ING("u", "http", "0.0.0.0:80/a/../b", "web", "api") "]}",
     NULL, SVC(SVC_API), NULL,
     "device.json: ingress[0].external: path prefix '/a/../b': not a "
     "normalized path"},
    {"{'ingress':[" ING_WEB
     "," ING("p", "tcp", "0.0.0.0:70000", "web", "http") "]}",
     NULL, NULL, NULL,
     "device.json: ingress[1].external: port 70000 out of range "
     "(1-65535)"},
    {"{'ingress':[" ING("p", "tcp", "0.0.0.0:80", "nope", "http") "]}", NULL,
     NULL, NULL, "device.json: ingress[0].provider: unknown container 'nope'"},
    {"{'ingress':[" ING("p", "tcp", "0.0.0.0:80", "web", "nope") "]}", NULL,
     NULL, NULL,
     "device.json: ingress[0].service: container 'web' exports no service "
     "'nope'"},
    {"{'ingress':[{'name':'p','type':'tcp','external':'0.0.0.0:80'}]}", NULL,
     NULL, NULL, "device.json: ingress[0].provider: missing (required)"},
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING_WEB "," ING(
	 "b", "tcp", "10.0.0.1:80", "web", "http") "]}",
     NULL, NULL, NULL,
     "device.json: ingress[1].external: tcp 10.0.0.1:80 collides with tcp "
     "ingress[0] 'web-in' (0.0.0.0:80)"},
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING(
	 "a", "tcp", "10.0.0.1:80", "web",
	 "http") "," ING("b", "tcp", "10.0.0.1:80", "web", "http") "]}",
     NULL, NULL, NULL,
     "device.json: ingress[1].external: tcp 10.0.0.1:80 collides with tcp "
     "ingress[0] 'a' (10.0.0.1:80)"},
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING(
	 "a", "tcp", "[fd00::1]:443", "web",
	 "http") "," ING("b", "tcp", "[::]:443", "web", "http") "]}",
     NULL, NULL, NULL,
     "device.json: ingress[1].external: tcp [::]:443 collides with tcp "
     "ingress[0] 'a' ([fd00::1]:443)"},
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING_WEB "," ING(
	 "h", "http", "0.0.0.0:80/api", "web", "api") "]}",
     NULL, SVC(SVC_HTTP "," SVC_API), NULL,
     "device.json: ingress[1].external: http 0.0.0.0:80 collides with tcp "
     "ingress[0] 'web-in' (0.0.0.0:80)"},
    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING(
	 "a", "http", "0.0.0.0:8080/api/", "web",
	 "api") "," ING("b", "http", "0.0.0.0:8080/api", "web", "api") "]}",
     NULL, SVC(SVC_API), NULL,
     "device.json: ingress[1].external: http 0.0.0.0:8080 path '/api' "
     "already routed by ingress[0] 'a'"},
    {NULL, RUN(",'network':{'mode':'none'}"), NULL, NULL,
     "device.json: ingress[0].service: service 'http' has a port but "
     "container 'web' has network mode none"},
    {"{'ingress':{}}", NULL, NULL, NULL,
     "device.json: ingress: expected array"},
    {"{'ingress':[5]}", NULL, NULL, NULL,
     "device.json: ingress[0]: expected object"},

    /* ---- services ---- */
    {NULL, NULL, SVC("{'name':'http','type':'tcp','port':0}"), NULL,
     "web/services.json: services[0].port: port 0 out of range (1-65535)"},
    {NULL, NULL, SVC("{'name':'http','type':'tcp','port':70000}"), NULL,
     "web/services.json: services[0].port: port 70000 out of range "
     "(1-65535)"},
    {NULL, NULL, SVC("{'name':'http','type':'tcp','port':-1}"), NULL,
     "web/services.json: services[0].port: port -1 out of range"},
    {NULL, NULL, SVC("{'name':'http','type':'tcp','port':'eighty'}"), NULL,
     "web/services.json: services[0].port: port 'eighty' is not a number"},
    {NULL, NULL, SVC("{'name':'http','type':'tcp','port':8.5}"), NULL,
     "web/services.json: services[0].port: expected integer (1-65535) or "
     "numeric string"},
    {NULL, NULL, "[{'name':'http','type':'tcp','port':'0'}]", NULL,
     "web/services.json: [0].port: port 0 out of range (1-65535)"},
    {NULL, NULL,
     SVC(SVC_HTTP ",{'name':'u','type':'unix','socket':'run/u.sock'}"), NULL,
     "web/services.json: services[1].socket: 'run/u.sock' is not an "
     "absolute path"},
    {NULL, NULL,
     SVC(SVC_HTTP ",{'name':'u','type':'unix','socket':'/run/../u.sock'}"),
     NULL,
     "web/services.json: services[1].socket: '/run/../u.sock' contains a "
     "'..' component"},
    {NULL, NULL, SVC("{'name':'http','type':'tcp'}"), NULL,
     "web/services.json: services[0]: tcp service 'http' needs a port or "
     "a socket"},
    {NULL, NULL, SVC(SVC_HTTP ",{'name':'u','type':'unix','port':5}"), NULL,
     "web/services.json: services[1]: unix service 'u' needs a socket"},
    {NULL, NULL, SVC(SVC_HTTP ",{'name':'r','type':'rest'}"), NULL,
     "web/services.json: services[1]: rest service 'r' needs a socket"},
    {NULL, NULL, SVC(SVC_HTTP ",{'name':'h','type':'http','port':80}"), NULL,
     "web/services.json: services[1]: http service 'h' needs a socket"},
    {NULL, NULL, SVC(SVC_HTTP "," SVC_HTTP), NULL,
     "web/services.json: services[1].name: duplicate service 'http' (also "
     "services[0])"},
    {NULL, NULL, SVC("{'type':'tcp','port':80}"), NULL,
     "web/services.json: services[0].name: missing (required)"},
    {NULL, NULL,
     "{'#spec':'service-manifest-xconnect@2','services':[" SVC_HTTP "]}", NULL,
     "web/services.json: #spec: unsupported spec (expected "
     "'service-manifest-xconnect@1')"},
    {NULL, NULL, "{'#spec':'service-manifest-xconnect@1'}", NULL,
     "web/services.json: services: missing (required)"},
    {NULL, NULL, "'x'", NULL, "web/services.json: expected object or array"},

    /* ---- pools ---- */
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/33'}") "}", NULL,
     NULL, NULL,
     "device.json: network.pools.internal.subnet: '10.0.4.0/33': prefix "
     "length 33 out of range (0-32)"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.1/24'}") "}", NULL,
     NULL, NULL,
     "device.json: network.pools.internal.subnet: '10.0.4.1/24': host bits "
     "set"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0'}") "}", NULL,
     NULL, NULL,
     "device.json: network.pools.internal.subnet: '10.0.4.0': expected "
     "ADDRESS/PREFIX"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/31'}") "}", NULL,
     NULL, NULL,
     "device.json: network.pools.internal.subnet: subnet 10.0.4.0/31 too "
     "small"},
    {"{" POOLS("'internal':{'bridge':'br0'}") "}", NULL, NULL, NULL,
     "device.json: network.pools.internal.subnet: missing (required)"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/24',"
	       "'gateway':'10.0.5.1'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.gateway: gateway 10.0.5.1 "
     "outside subnet 10.0.4.0/24"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/24',"
	       "'gateway':'10.0.4.0'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.gateway: gateway 10.0.4.0 is the "
     "network address of 10.0.4.0/24"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/24',"
	       "'gateway':'10.0.4.255'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.gateway: gateway 10.0.4.255 is "
     "the broadcast address of 10.0.4.0/24"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/24',"
	       "'gateway':'10.0.4'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.gateway: invalid IPv4 address "
     "'10.0.4'"},
    {"{" POOLS("'internal':{'bridge':'br-0123456789abc','subnet':"
	       "'10.0.4.0/24'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.bridge: bridge name "
     "'br-0123456789abc' longer than 15 bytes"},
    {"{" POOLS("'internal':{'bridge':'br 0','subnet':'10.0.4.0/24'}") "}", NULL,
     NULL, NULL,
     "device.json: network.pools.internal.bridge: bridge name 'br 0' is "
     "not a valid interface name"},
    {"{" POOLS("'internal':{'bridge':'','subnet':'10.0.4.0/24'}") "}", NULL,
     NULL, NULL,
     "device.json: network.pools.internal.bridge: must not be empty"},
    {"{" POOLS("'internal':{'type':'vlan','bridge':'br0','subnet':"
	       "'10.0.4.0/24'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.type: unsupported pool type "
     "'vlan' (expected bridge or macvlan)"},
    {"{" POOLS("'internal':{'type':'macvlan','bridge':'br0','subnet':"
	       "'10.0.4.0/24'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.parent: missing (required)"},
    {"{" POOLS(POOL_INTERNAL ",'other':{'bridge':'br1','subnet':"
			     "'10.0.0.0/16'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.other.subnet: subnet 10.0.0.0/16 "
     "overlaps pool internal (10.0.4.0/24)"},
    {"{" POOLS(POOL_INTERNAL ",'other':{'bridge':'br0','subnet':"
			     "'10.0.5.0/24'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.other.bridge: bridge 'br0' also used by "
     "pool internal"},
    {"{" POOLS("'bad pool':{'bridge':'br0','subnet':'10.0.4.0/24'}") "}",
     "{'type':'lxc'}", NULL, NULL,
     "device.json: network.pools.bad pool: pool name 'bad pool' is not "
     "safe"},
    {"{" POOLS("'internal':{'bridge':'br0','subnet':'10.0.4.0/24',"
	       "'nat':'yes'}") "}",
     NULL, NULL, NULL,
     "device.json: network.pools.internal.nat: expected boolean"},
    {"{'network':{'pools':[]}}", "{'type':'lxc'}", NULL, NULL,
     "device.json: network.pools: expected object"},

    /* ---- containers ---- */
    {NULL, RUN(",'network':{'pool':'nope'}"), NULL, NULL,
     "web/run.json: network.pool: unknown pool 'nope'"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'name':'eth0'},"
	 "{'name':'eth1','pool':'nope'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[1].pool: unknown pool 'nope'"},
    {NULL, RUN(",'network':{'mode':'pool'}"), NULL, NULL,
     "web/run.json: network: mode pool needs a pool"},
    {NULL, RUN(",'network':{'mode':'pool','interfaces':[{'name':'eth0'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0]: no pool (set pool here or "
     "network.pool)"},
    {NULL, RUN(",'network':{'mode':'bridge','pool':'internal'}"), NULL, NULL,
     "web/run.json: network.mode: unknown network mode 'bridge' (expected "
     "pool, host or none)"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'ipv4_address':"
	 "'10.0.5.9'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].ipv4_address: 10.0.5.9 outside "
     "pool internal (10.0.4.0/24)"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'ipv4_address':"
	 "'10.0.4.1/24'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].ipv4_address: 10.0.4.1 is the "
     "gateway of pool internal"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'ipv4_address':"
	 "'10.0.4.0'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].ipv4_address: 10.0.4.0 is the "
     "network address of pool internal"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'ipv4_address':"
	 "'10.0.4.255'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].ipv4_address: 10.0.4.255 is the "
     "broadcast address of pool internal"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'ipv4_address':"
	 "'10.0.4.5/16'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].ipv4_address: prefix /16 differs "
     "from pool internal (10.0.4.0/24)"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'ipv4_address':"
	 "'10.0.4.x'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].ipv4_address: invalid IPv4 "
     "address '10.0.4.x'"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'ipv4_address':"
	 "'10.0.4.5'}]}"),
     NULL,
     "'db/run.json':{'type':'lxc','network':{'pool':'internal',"
     "'interfaces':[{'ipv4_address':'10.0.4.5'}]}}",
     "web/run.json: network.interfaces[0].ipv4_address: 10.0.4.5 already "
     "used by db (eth0)"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'name':'eth0',"
	 "'ipv4_address':'10.0.4.5'},{'name':'eth1','ipv4_address':"
	 "'10.0.4.5'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[1].ipv4_address: 10.0.4.5 already "
     "used by web (eth0)"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'name':'eth0'},"
	 "{'name':'eth0'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[1]: duplicate interface 'eth0' "
     "(also network.interfaces[0])"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'name':"
	 "'veth-much-too-long'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].name: interface name "
     "'veth-much-too-long' is not valid"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'mac_address':"
	 "'02:00:0a:00:04'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].mac_address: '02:00:0a:00:04' is "
     "not a MAC address"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'mac_address':"
	 "'02:00:0a:00:04:zz'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].mac_address: '02:00:0a:00:04:zz' "
     "is not a MAC address"},
    {NULL,
     RUN(",'network':{'pool':'internal','interfaces':[{'mac_address':"
	 "'01:00:5e:00:00:01'}]}"),
     NULL, NULL,
     "web/run.json: network.interfaces[0].mac_address: '01:00:5e:00:00:01' "
     "is a multicast address"},
    {NULL, RUN(",'network':{'pool':'internal','hostname':'a b'}"), NULL, NULL,
     "web/run.json: network.hostname: hostname 'a b' is not valid"},
    {NULL, NULL, NULL, "'bad name/run.json':{'type':'lxc'}",
     "bad name/run.json: container name 'bad name' is not safe"},
    {NULL, NULL, NULL, "'-x/run.json':{'type':'lxc'}",
     "-x/run.json: container name '-x' is not safe"},
    {NULL, NULL, NULL, "'../run.json':{'type':'lxc'}",
     "../run.json: container name '..' is not safe"},
    {NULL, RUN(",'name':'other'" NET_POOL), NULL, NULL,
     "web/run.json: name: 'other' differs from the folder name 'web'"},
    {NULL, "{'type':'process'" NET_POOL "}", NULL, NULL,
     "web/run.json: exec: missing (required)"},
    {NULL, "{'type':'process','exec':[]" NET_POOL "}", NULL, NULL,
     "web/run.json: exec: must not be empty for a process container"},
    {NULL, "{'type':'process','exec':'/bin/true'" NET_POOL "}", NULL, NULL,
     "web/run.json: exec: expected array"},
    {NULL, "{'type':'process','exec':['/bin/true',5]" NET_POOL "}", NULL, NULL,
     "web/run.json: exec[1]: expected string"},
    {NULL, RUN(NET_POOL ",'env':{'A':1}"), NULL, NULL,
     "web/run.json: env.A: expected string"},
    {NULL, RUN(NET_POOL ",'env':{'A=B':'c'}"), NULL, NULL,
     "web/run.json: env.A=B: invalid variable name 'A=B'"},
    {NULL, RUN(",'network':{'pool':5}"), NULL, NULL,
     "web/run.json: network.pool: expected string"},
    {NULL, "[]", NULL, NULL, "web/run.json: expected object"},
    {NULL, "{'type':''}", NULL, NULL, "web/run.json: type: must not be empty"},

    /* ---- requirements ---- */
    {NULL,
     RUN(NET_POOL ",'services':{'required':[{'name':'raw','type':'unix',"
		  "'target':'/run/raw.sock'}]}"),
     NULL, NULL,
     "web/run.json: services.required[0]: no container exports service "
     "'raw'"},
    {NULL,
     RUN(NET_POOL ",'services':{'optional':[{'name':'x','type':'unix',"
		  "'target':'/run/x.sock'}],'required':[{'name':'http',"
		  "'type':'tcp','target':'127.0.0.1:80'}]}"),
     NULL,
     "'db/run.json':{'type':'lxc'},'db/services.json':[{'name':'http',"
     "'type':'tcp','port':80}]",
     "web/run.json: services.required[0]: service 'http' is exported by "
     "several containers (db, web): ambiguous"},
    {NULL,
     RUN(NET_POOL ",'services':{'required':[{'name':'http','type':'unix',"
		  "'target':'run/x.sock'}]}"),
     NULL, NULL,
     "web/run.json: services.required[0].target: 'run/x.sock' is not an "
     "absolute path"},
    {NULL,
     RUN(NET_POOL ",'services':{'required':[{'name':'http','type':'tcp',"
		  "'target':'127.0.0.1'}]}"),
     NULL, NULL,
     "web/run.json: services.required[0].target: '127.0.0.1': expected "
     "IP:PORT"},
    {NULL,
     RUN(NET_POOL ",'services':{'required':[{'name':'http','type':'unix'}"
		  "]}"),
     NULL, NULL,
     "web/run.json: services.required[0].target: missing (required)"},
    {NULL, RUN(NET_POOL ",'services':{'required':{}}"), NULL, NULL,
     "web/run.json: services.required: expected array"},
    {NULL,
     RUN(NET_POOL ",'services':{'required':[{'name':'http','type':'http',"
		  "'target':'0.0.0.0:80/a/../b'}]}"),
     NULL, NULL,
     "web/run.json: services.required[0].target: path prefix '/a/../b': "
     "not a normalized path"},
    {NULL,
     RUN(NET_POOL ",'services':{'required':[{'name':'http','type':'unix',"
		  "'target':'/run/x.sock'}],'optional':[{'name':'http',"
		  "'type':'unix','target':'/run/x.sock'}]}"),
     NULL, NULL,
     "web/run.json: services.optional[0]: duplicate requirement of 'http' "
     "at '/run/x.sock' (also services.required[0])"},
};

/* ' -> " */
static char *dq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static char *build_state(const struct vcase *c)
{
	char *s = NULL, *d;
	const char *dev = c->dev ? c->dev : def_dev;
	const char *run = c->run ? c->run : def_run;
	const char *svc = c->svc ? c->svc : def_svc;
	const char *extra = c->extra ? c->extra : "";
	char devpart[4096] = "", runpart[4096] = "", svcpart[4096] = "";

	if (*dev)
		snprintf(devpart, sizeof(devpart), ",'device.json':%s", dev);
	if (*run)
		snprintf(runpart, sizeof(runpart), ",'web/run.json':%s", run);
	if (*svc)
		snprintf(svcpart, sizeof(svcpart), ",'web/services.json':%s",
			 svc);
	assert_true(
	    asprintf(&s, "{'#spec':'pantavisor-service-system@1'%s%s%s%s%s}",
		     devpart, runpart, svcpart, *extra ? "," : "", extra) > 0);
	d = dq(s);
	free(s);
	return d;
}

static void test_table(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *c = &cases[i];
		struct pvx_errlist el = {0};
		char *buf = build_state(c);
		const char *expect = c->expect;
		struct pvc_state *st =
		    pvc_state_load_buf(buf, strlen(buf), "state.json", &el);
		bool ok;

		if (!*expect)
			ok = st && el.n == 0;
		else
			ok = !st && pvx_errlist_find(&el, expect);
		if (!ok) {
			char *all = pvx_errlist_join(&el);
			fprintf(stderr,
				"case %zu: expected %s\n  input: %s\n  got "
				"(%s):\n%s\n",
				i, *expect ? expect : "success", buf,
				st ? "loaded" : "refused", all ? all : "");
			free(all);
			failures++;
		}
		pvc_state_free(st);
		pvx_errlist_clear(&el);
		free(buf);
	}
	assert_int_equal(failures, 0);
}

/* Each bad case reports its problem, and only what follows from it:
 * a single independent error must not drag spurious ones along. */
static void test_single_error(void **state)
{
	static const struct vcase one[] = {
	    {NULL, NULL, SVC("{'name':'http','type':'tcp','port':0}"), NULL,
	     "port 0"},
	    {"{" POOLS(POOL_INTERNAL) ",'ingress':[" ING(
		 "u", "tcp", "0.0.0.0:99999", "web", "http") "]}",
	     NULL, NULL, NULL, "99999"},
	    {NULL,
	     RUN(",'network':{'pool':'internal','interfaces':[{"
		 "'ipv4_address':'10.0.5.9'}]}"),
	     NULL, NULL, "outside pool"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		struct pvx_errlist el = {0};
		char *buf = build_state(&one[i]);
		struct pvc_state *st =
		    pvc_state_load_buf(buf, strlen(buf), "state.json", &el);
		assert_null(st);
		if (el.n != 1 || !pvx_errlist_find(&el, one[i].expect)) {
			char *all = pvx_errlist_join(&el);
			fprintf(stderr, "case %zu: got:\n%s\n", i, all);
			free(all);
			fail();
		}
		pvx_errlist_clear(&el);
		free(buf);
	}
}

static void test_three_errors(void **state)
{
	/* One in device.json, one in run.json, one in services.json. */
	static const struct vcase c = {
	    "{" POOLS(POOL_INTERNAL) ",'ingress':[" ING(
		"u", "tcp", "0.0.0.0:70000", "web", "http") "]}",
	    RUN(",'network':{'pool':'internal','interfaces':[{"
		"'ipv4_address':'10.0.5.9'}]}"),
	    SVC("{'name':'http','type':'tcp','port':'x'}"), NULL, NULL};
	struct pvx_errlist el = {0};
	char *buf = build_state(&c);
	struct pvc_state *st =
	    pvc_state_load_buf(buf, strlen(buf), "state.json", &el);

	(void)state;
	assert_null(st);
	assert_non_null(pvx_errlist_find(
	    &el, "device.json: ingress[0].external: port 70000 out of "
		 "range (1-65535)"));
	assert_non_null(pvx_errlist_find(
	    &el, "web/run.json: network.interfaces[0].ipv4_address: "
		 "10.0.5.9 outside pool internal (10.0.4.0/24)"));
	assert_non_null(pvx_errlist_find(
	    &el, "web/services.json: services[0].port: port 'x' is not a "
		 "number"));
	pvx_errlist_clear(&el);
	free(buf);
}

/* pvc_state_validate on a model built by hand (as another module may). */
static void test_validate_model(void **state)
{
	struct pvc_export ex = {.name = "s", .type = "tcp", .port = 80};
	struct pvc_container cs[2] = {
	    {.name = "a", .type = "lxc", .exports = &ex, .n_exports = 1},
	    {.name = "b", .type = "lxc", .exports = &ex, .n_exports = 1},
	};
	struct pvc_state st = {.containers = cs, .n_containers = 2};
	struct pvc_require rq = {
	    .name = "s", .type = "tcp", .target = "127.0.0.1:1"};
	struct pvx_errlist el = {0};

	(void)state;
	assert_int_equal(pvc_state_validate(&st, &el), 0);
	cs[0].requires = &rq;
	cs[0].n_requires = 1;
	assert_int_equal(pvc_state_validate(&st, &el), -EINVAL);
	assert_non_null(pvx_errlist_find(
	    &el, "a/run.json: services.required[0]: service 's' is "
		 "exported by several containers (a, b): ambiguous"));
	assert_null(pvc_state_find_provider(&st, "s", NULL));
	pvx_errlist_clear(&el);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_single_error),
	    cmocka_unit_test(test_three_errors),
	    cmocka_unit_test(test_validate_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
