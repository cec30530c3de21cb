package hostops

import (
	"reflect"
	"testing"

	"github.com/remotegpu/remotegpu/activities"
)

// The agent's copy of the host activity contract matches the control plane's.
func TestContractMatchesActivities(t *testing.T) {
	if NameStopTenantContainers != activities.HostStopTenantContainers || NameSetSSHPassword != activities.HostSetSSHPassword {
		t.Error("activity names differ from activities/host.go")
	}
	if TaskQueue("m1") != activities.HostTaskQueue("m1") {
		t.Error("task queue differs from activities/host.go")
	}
	for _, pair := range [][2]any{
		{StopTenantContainersInput{}, activities.HostStopTenantContainersInput{}},
		{StopTenantContainersResult{}, activities.HostStopTenantContainersResult{}},
		{SetSSHPasswordInput{}, activities.HostSetSSHPasswordInput{}},
		{SetSSHPasswordResult{}, activities.HostSetSSHPasswordResult{}},
	} {
		if got, want := fields(pair[0]), fields(pair[1]); !reflect.DeepEqual(got, want) {
			t.Errorf("%T has fields %v; activities has %v", pair[0], got, want)
		}
	}
}

func fields(v any) map[string]string {
	out := map[string]string{}
	ty := reflect.TypeOf(v)
	for i := range ty.NumField() {
		f := ty.Field(i)
		out[f.Name] = f.Type.String() + " " + string(f.Tag)
	}
	return out
}
